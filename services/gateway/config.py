"""The gateway's TOML configuration: the hall, its buses (address -> window) and timings.

Shape::

    hall = "demo"                  # optional: the token's own hall is used; must match
    evaluation_timeout = 30        # seconds a pad waits for the citizen after 办结
    health_interval = 15           # seconds between full health reports
    # drivers = "devices.toml"     # take the buses from a drivers file instead of below

    [[buses]]                      # exactly as drivers/config.py reads them
    name = "hall"
    port = "/dev/ttyUSB0"
      [[buses.devices]]
      kind = "keypad"
      address = 1
      window = 1
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from drivers.config import BusConfig, DeviceKind, DriversConfig, load_toml
from drivers.errors import ConfigError
from drivers.protocols.jh import MAX_TEXT_BYTES
from drivers.protocols.text import encode_gb


class GatewayConfigError(ValueError):
    """The gateway configuration cannot be used (the message says why)."""


# The engine's hold kinds (services/engine/tickets/states.py HoldKind): the gateway
# does not import the engine, so they are listed here and checked by a test.
HOLD_KINDS = ("missing_documents", "documents_left", "waiting")


@dataclass(frozen=True)
class GatewayConfig:
    buses: tuple[BusConfig, ...]
    hall: str | None = None
    # 评价器: how long after 办结 a pad press still rates that ticket; then it is 未评价.
    evaluation_timeout: float = 30.0
    # Light the pad's 请评价 prompt (FF 68 pads beep) when a ticket is finished. It only
    # invites: nothing ever chooses or suggests a level for the citizen.
    invite_rating: bool = True
    # A keypad has no "open window" key: 呼叫 at a closed window opens it first.
    open_on_call: bool = True
    # A keypad cannot type a pause reason; the engine records this text instead.
    pause_reason: str = "呼叫器暂停（未注明原因）"
    # A keypad's 挂起 cannot say why: held as this kind (missing_documents 补材料,
    # documents_left 材料留窗口, waiting 等待审批/刻章/缴费).
    hold_kind: str = "missing_documents"
    idle_text: str = "热情为您服务"
    paused_text: str = "暂停服务"
    closed_text: str = "暂停服务"
    health_interval: float = 15.0
    # A key press waits this long for an engine that is restarting, then beeps.
    action_retry_seconds: float = 15.0
    # A citizen's rating is kept and retried this long while the engine is away.
    rating_retry_seconds: float = 600.0
    http_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.buses:
            raise GatewayConfigError("no [[buses]]: the gateway has nothing to drive")
        roles: dict[tuple[DeviceKind, int], str] = {}
        for bus in self.buses:
            for dev in bus.devices:
                other = roles.get((dev.kind, dev.window))
                if other is not None:
                    raise GatewayConfigError(
                        f"window {dev.window} has a {dev.kind} on bus {other} and on bus {bus.name}"
                    )
                roles[(dev.kind, dev.window)] = bus.name
        for name in (
            "evaluation_timeout",
            "health_interval",
            "action_retry_seconds",
            "rating_retry_seconds",
            "http_timeout",
        ):
            if float(getattr(self, name)) <= 0:
                raise GatewayConfigError(f"{name} must be more than 0 seconds")
        if not self.pause_reason.strip() or len(self.pause_reason) > 200:
            raise GatewayConfigError("pause_reason: 1 to 200 characters")
        if self.hold_kind not in HOLD_KINDS:
            raise GatewayConfigError(f"hold_kind: one of {', '.join(HOLD_KINDS)}")
        for name in ("idle_text", "paused_text", "closed_text"):
            text = getattr(self, name)
            if not text.strip() or len(encode_gb(text)) > MAX_TEXT_BYTES:
                raise GatewayConfigError(f"{name}: 1 to {MAX_TEXT_BYTES} bytes in GB18030")

    @property
    def windows(self) -> list[int]:
        return sorted({d.window for b in self.buses for d in b.devices})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: Path | None = None) -> GatewayConfig:
        data = dict(data)
        own = {f.name for f in fields(cls)} - {"buses"}
        drivers_file = data.pop("drivers", None)
        raw_buses = data.pop("buses", None)
        unknown = set(data) - own
        if unknown:
            raise GatewayConfigError(f"unknown settings {sorted(unknown)}")
        for name, value in data.items():
            _check_type(name, value, cls.__dataclass_fields__[name].default)
        try:
            if drivers_file is not None:
                if raw_buses is not None:
                    raise GatewayConfigError("give [[buses]] or drivers = FILE, not both")
                path = Path(drivers_file)
                if not path.is_absolute() and base_dir is not None:
                    path = base_dir / path
                # Printers in a shared drivers file belong to the kiosk: ignored here.
                buses = load_toml(str(path)).buses
            else:
                buses = DriversConfig.from_dict({"buses": raw_buses or []}).buses
            return cls(buses=buses, **data)
        except (ConfigError, TypeError) as err:
            raise GatewayConfigError(str(err)) from err
        except OSError as err:
            raise GatewayConfigError(f"cannot read the drivers file: {err}") from err

    @classmethod
    def load(cls, path: str | Path) -> GatewayConfig:
        path = Path(path)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except OSError as err:
            raise GatewayConfigError(f"cannot read {path}: {err}") from err
        except tomllib.TOMLDecodeError as err:
            raise GatewayConfigError(f"{path} is not valid TOML: {err}") from err
        return cls.from_dict(data, base_dir=path.parent)


def _check_type(name: str, value: Any, default: Any) -> None:
    """TOML gives the types it gives: refuse "30" for seconds or "yes" for a switch."""
    if default is None or isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, bool):
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok:
        raise GatewayConfigError(f"{name} = {value!r} has the wrong type")
