"""``jiaohao gateway --engine URL --token TOKEN --config FILE``: run the hall device gateway.

Runs until Ctrl-C or SIGTERM. Exits 2 when the configuration, the token or the hall
is wrong (nothing a restart would fix); keeps running through engine restarts and
unplugged devices.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.gateway.config import GatewayConfig

TOKEN_ENV = "JIAOHAO_GATEWAY_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine", required=True, help="the engine's address, e.g. http://10.0.0.2:8000"
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"the gateway's device token (or set {TOKEN_ENV}, which keeps it out of `ps`)",
    )
    parser.add_argument("--config", required=True, help="the gateway's TOML file")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")


def run(args: argparse.Namespace) -> int:
    from services.gateway.config import GatewayConfig, GatewayConfigError
    from services.gateway.runtime import GatewayRefused

    if not args.token:
        print(f"a gateway token is needed: --token or {TOKEN_ENV}", file=sys.stderr)
        return 2
    try:
        config = GatewayConfig.load(args.config)
    except GatewayConfigError as err:
        print(f"cannot use {args.config}: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The drivers log every health change; the websockets library is chatty at INFO.
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        asyncio.run(_main(config, args.engine, args.token))
    except GatewayRefused as err:
        print(f"gateway cannot start: {err}", file=sys.stderr)
        return 2
    return 0


async def _main(config: GatewayConfig, engine: str, token: str) -> None:
    from services.gateway.runtime import Gateway

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    gateway = Gateway(config, engine, token)
    print(f"gateway: engine {engine}, windows {config.windows}; Ctrl-C to stop", flush=True)
    await gateway.run(stop)
    print("gateway stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jiaohao gateway", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
