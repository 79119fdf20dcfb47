"""``jiaohao-kiosk``: run the kiosk (自助取号机) on its PC."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from .config import KioskConfigError, build_config, load_file


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jiaohao-kiosk",
        description="The self-service kiosk: serves its touch page on this PC, takes tickets "
        "from the engine and prints them. Open the page with: chromium --kiosk "
        "http://127.0.0.1:8080",
    )
    parser.add_argument("--engine", help="the engine's address, e.g. http://10.0.0.2:8000")
    parser.add_argument(
        "--token", help="the kiosk's device token (or JIAOHAO_KIOSK_TOKEN, safer: not in ps)"
    )
    parser.add_argument(
        "--printer",
        help="/dev/ttyUSB0[?baudrate=N], usb:/dev/usb/lp0, socket://host:9100 or tcp://host:9100",
    )
    parser.add_argument("--hall", help="the hall's code (default: the token's hall)")
    parser.add_argument("--host", help="address to serve the page on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to serve the page on (default 8080)")
    parser.add_argument("--config", help="a TOML file with these settings and more")
    parser.add_argument(
        "--staff-pin", help="PIN for staff actions such as reprint (or JIAOHAO_KIOSK_STAFF_PIN)"
    )
    parser.add_argument(
        "--data-dir", help="where the list of unprinted tickets is kept (default var/kiosk)"
    )
    parser.add_argument(
        "--no-bus",
        action="store_true",
        help="poll the engine for waiting counts instead of following the hall bus",
    )
    parser.add_argument("--log-level", default="info")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per engine request (every second) would drown what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        values: dict[str, Any] = load_file(args.config) if args.config else {}
        for key in ("engine", "token", "printer", "hall", "host", "port", "staff_pin", "data_dir"):
            if getattr(args, key) is not None:
                values[key] = getattr(args, key)
        if args.no_bus:
            values["bus"] = False
        config = build_config(values)
    except KioskConfigError as err:
        print(f"jiaohao-kiosk: {err}", file=sys.stderr)
        return 2

    import uvicorn

    from .kiosk import Kiosk
    from .server import create_app

    app = create_app(Kiosk(config))
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
