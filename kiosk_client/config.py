"""Kiosk configuration: command line, environment and an optional TOML file.

Printer addresses (``--printer``):

=================================  ==========================================
``/dev/ttyUSB0``, ``COM3``          serial port (``?baudrate=19200`` optional)
``serial:/dev/ttyS0``               the same, spelled out
``usb:/dev/usb/lp0``                USB printer device file (usblp)
``socket://10.0.0.5:9100``          network printer, raw TCP (port 9100 default)
``tcp://10.0.0.5``                  the same
=================================  ==========================================
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from drivers.config import PrinterConfig
from drivers.errors import ConfigError
from drivers.protocols.ticket import TicketLayout

DEFAULT_PORT = 8080
# The kiosk's printer is asked for its state this often (DLE EOT), so the page can
# warn about paper before a citizen presses a button.
PRINTER_STATUS_INTERVAL = 5.0


class KioskConfigError(ValueError):
    """The kiosk cannot start with this configuration."""


def printer_config(
    url: str,
    *,
    name: str = "kiosk",
    options: Mapping[str, Any] | None = None,
    layout: Mapping[str, Any] | None = None,
) -> PrinterConfig:
    """Map a printer address to the drivers' :class:`PrinterConfig`."""
    data: dict[str, Any] = {"name": name, "status_interval": PRINTER_STATUS_INTERVAL}
    data.update(options or {})
    text = url.strip()
    if not text:
        raise KioskConfigError("the printer address is empty")
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme in ("socket", "tcp"):
        parts = urlsplit(text)
        if not parts.hostname:
            raise KioskConfigError(f"printer {url!r}: a network printer needs a host")
        try:
            port = parts.port or 9100
        except ValueError as err:
            raise KioskConfigError(f"printer {url!r}: {err}") from err
        data.update(connection="tcp", host=parts.hostname, tcp_port=port)
    elif scheme == "usb":
        path = text[4:]
        path = "/" + path.lstrip("/") if path.startswith("//") else path
        if not path:
            raise KioskConfigError(f"printer {url!r}: give the device file, usb:/dev/usb/lp0")
        data.update(connection="usb", device=path)
    else:
        if scheme == "serial":
            text = text[len("serial:") :]
        path, _, query = text.partition("?")
        params = parse_qs(query)
        data.update(connection="serial", port=path)
        if "baudrate" in params:
            try:
                data["baudrate"] = int(params["baudrate"][-1])
            except ValueError as err:
                raise KioskConfigError(f"printer {url!r}: baudrate must be a number") from err
    if layout:
        data["layout"] = dict(layout)
    try:
        return PrinterConfig.from_dict(data)
    except ConfigError as err:
        raise KioskConfigError(str(err)) from err


@dataclass(frozen=True)
class KioskConfig:
    engine_url: str
    token: str
    printer: PrinterConfig
    printer_url: str
    hall: str | None = None  # None: the hall the token belongs to
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    # Staff actions on the page (reprint) need this PIN; without one they are off.
    staff_pin: str | None = None
    data_dir: Path = Path("var/kiosk")
    use_bus: bool = True
    # The engine is asked "are you there" this often; a failed answer shows on the
    # page at once, so the page knows within about two intervals.
    probe_interval: float = 1.0
    probe_timeout: float = 1.0
    request_timeout: float = 8.0  # issuing, check-in, look-ups
    queues_interval: float = 3.0  # polling /queues while the bus is not live
    queues_refresh: float = 30.0  # and while it is (opening hours, quotas)
    health_interval: float = 30.0  # printer health to the engine, at least this often
    print_timeout: float = 15.0
    result_seconds: int = 12  # how long a result stays on screen
    layout: TicketLayout = field(default_factory=TicketLayout)

    @property
    def unprinted_path(self) -> Path:
        return self.data_dir / "unprinted.json"

    def __post_init__(self) -> None:
        if not self.engine_url.startswith(("http://", "https://")):
            raise KioskConfigError("--engine must be an http:// or https:// address")
        if not self.token:
            raise KioskConfigError("a kiosk token is needed (--token or JIAOHAO_KIOSK_TOKEN)")
        if self.staff_pin is not None and not (
            self.staff_pin.isdigit() and 4 <= len(self.staff_pin) <= 12
        ):
            raise KioskConfigError("the staff PIN must be 4 to 12 digits")
        if self.probe_interval <= 0 or self.probe_timeout <= 0:
            raise KioskConfigError("probe interval and timeout must be positive")


TUNING_KEYS = (
    "probe_interval",
    "probe_timeout",
    "request_timeout",
    "queues_interval",
    "queues_refresh",
    "health_interval",
    "print_timeout",
    "result_seconds",
)
# What a kiosk TOML file may hold (docs/kiosk.md).
FILE_KEYS = frozenset(
    {
        "engine",
        "token",
        "printer",
        "hall",
        "host",
        "port",
        "staff_pin",
        "data_dir",
        "bus",
        "printer_options",
        "layout",
        *TUNING_KEYS,
    }
)


def load_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise KioskConfigError(f"cannot read {path}: {err}") from err
    unknown = set(data) - FILE_KEYS
    if unknown:
        raise KioskConfigError(f"{path}: unknown settings {sorted(unknown)}")
    return data


def build_config(values: Mapping[str, Any], env: Mapping[str, str] | None = None) -> KioskConfig:
    """The kiosk's settings from ``values`` (the TOML file with the command line laid
    over it), falling back to ``JIAOHAO_KIOSK_*`` environment variables, so that the
    token and the PIN need not appear on a command line."""
    env = os.environ if env is None else env
    token = values.get("token") or env.get("JIAOHAO_KIOSK_TOKEN", "")
    pin = values.get("staff_pin") or env.get("JIAOHAO_KIOSK_STAFF_PIN") or None
    engine = values.get("engine") or env.get("JIAOHAO_KIOSK_ENGINE", "")
    printer_url = values.get("printer") or env.get("JIAOHAO_KIOSK_PRINTER", "")
    if not engine:
        raise KioskConfigError("--engine is required (the engine's address)")
    if not printer_url:
        raise KioskConfigError("--printer is required (e.g. /dev/ttyUSB0 or socket://host:9100)")
    layout_data = dict(values.get("layout") or {})
    for key, value in list(layout_data.items()):
        if isinstance(value, list):
            layout_data[key] = tuple(value)
    try:
        layout = TicketLayout(**layout_data)
    except TypeError as err:
        raise KioskConfigError(f"layout: {err}") from err
    printer = printer_config(
        str(printer_url),
        options=values.get("printer_options"),
        layout=dataclasses.asdict(layout),
    )
    extra = {k: values[k] for k in TUNING_KEYS if values.get(k) is not None}
    return KioskConfig(
        engine_url=str(engine).rstrip("/"),
        token=str(token),
        printer=printer,
        printer_url=str(printer_url),
        hall=values.get("hall") or None,
        host=str(values.get("host") or "127.0.0.1"),
        port=int(values.get("port") or DEFAULT_PORT),
        staff_pin=str(pin) if pin is not None else None,
        data_dir=Path(values.get("data_dir") or env.get("JIAOHAO_KIOSK_DATA_DIR") or "var/kiosk"),
        use_bus=bool(values.get("bus", True)),
        layout=layout,
        **extra,
    )
