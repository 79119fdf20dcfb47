"""Driver configuration: plain dataclasses, built from a dict (e.g. a TOML document).

The same document drives ``devices simulate``: there a bus's ``port`` (or a printer's
``port``/``device``) is where the simulator puts a symlink to its pseudo-terminal.

Shape::

    [[buses]]
    name = "hall"
    port = "/dev/ttyUSB0"        # a device path or a pyserial URL (socket://host:port)
    baudrate = 9600
    rs485 = false                # kernel RS-485 mode; fails on pseudo-terminals
    response_timeout = 0.15      # seconds per try
    retries = 3
    poll_interval = 0.2
      [[buses.devices]]
      kind = "keypad"            # keypad | evaluator | led
      address = 1
      window = 1
      protocol = "ff68"          # ff68 | jh (LED boards: jh only)
      keys = 5                   # evaluators: 5, or 4 for legacy pads

    [[printers]]
    name = "kiosk-1"
    connection = "usb"           # serial | usb | tcp
    device = "/dev/usb/lp0"
      [printers.layout]
      qr = true
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .protocols.ticket import TicketLayout


class DeviceKind(enum.StrEnum):
    KEYPAD = "keypad"  # 呼叫器
    EVALUATOR = "evaluator"  # 评价器
    LED = "led"  # 窗口屏


class ProtocolName(enum.StrEnum):
    FF68 = "ff68"
    JH = "jh"


@dataclass(frozen=True)
class SerialSettings:
    port: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    rs485: bool = False


@dataclass(frozen=True)
class PollSettings:
    response_timeout: float = 0.15  # seconds to wait for an answer, per try
    retries: int = 3  # tries per poll or command before a device counts as offline
    poll_interval: float = 0.2  # how often each online device is polled
    backoff_initial: float = 1.0  # first wait before polling an offline device again
    backoff_max: float = 30.0
    reopen_initial: float = 0.5  # first wait before reopening a vanished port
    reopen_max: float = 10.0
    digit_timeout: float = 10.0  # digit + confirm keypad sequences must finish within this


@dataclass(frozen=True)
class BusDeviceConfig:
    kind: DeviceKind
    address: int
    window: int
    protocol: ProtocolName = ProtocolName.FF68
    keys: int = 5

    @property
    def device_id(self) -> str:
        return f"{self.kind}@{self.address}"


@dataclass(frozen=True)
class BusConfig:
    name: str
    serial: SerialSettings
    devices: tuple[BusDeviceConfig, ...] = ()
    polling: PollSettings = field(default_factory=PollSettings)

    def __post_init__(self) -> None:
        seen: set[tuple[ProtocolName, int]] = set()
        roles: set[tuple[DeviceKind, int]] = set()
        for dev in self.devices:
            if not 1 <= dev.address <= 247:
                raise ConfigError(f"bus {self.name}: address {dev.address} not in 1-247")
            if (dev.protocol, dev.address) in seen:
                raise ConfigError(f"bus {self.name}: two {dev.protocol} devices at {dev.address}")
            if (dev.kind, dev.window) in roles:
                raise ConfigError(
                    f"bus {self.name}: two {dev.kind} devices for window {dev.window}"
                )
            if dev.kind is DeviceKind.LED and dev.protocol is not ProtocolName.JH:
                raise ConfigError(f"bus {self.name}: LED boards speak the jh protocol only")
            if dev.kind is DeviceKind.EVALUATOR and dev.keys not in (4, 5):
                raise ConfigError(f"bus {self.name}: evaluators have 4 or 5 keys")
            seen.add((dev.protocol, dev.address))
            roles.add((dev.kind, dev.window))
        p = self.polling
        if p.retries < 1 or p.response_timeout <= 0 or p.poll_interval < 0:
            raise ConfigError(f"bus {self.name}: retries >= 1 and timeouts > 0, please")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusConfig:
        data = dict(data)
        name = str(data.pop("name", "bus"))
        devices = [_device_from_dict(d, name) for d in data.pop("devices", [])]
        serial_keys = {f.name for f in dataclasses.fields(SerialSettings)}
        poll_keys = {f.name for f in dataclasses.fields(PollSettings)}
        unknown = set(data) - serial_keys - poll_keys
        if unknown:
            raise ConfigError(f"bus {name}: unknown settings {sorted(unknown)}")
        if "port" not in data:
            raise ConfigError(f"bus {name}: 'port' is required")
        try:
            serial = SerialSettings(**{k: v for k, v in data.items() if k in serial_keys})
            polling = PollSettings(**{k: v for k, v in data.items() if k in poll_keys})
        except TypeError as err:
            raise ConfigError(f"bus {name}: {err}") from err
        return cls(name=name, serial=serial, devices=tuple(devices), polling=polling)

    def device(self, kind: DeviceKind, window: int) -> BusDeviceConfig:
        for dev in self.devices:
            if dev.kind is kind and dev.window == window:
                return dev
        raise KeyError(f"bus {self.name} has no {kind} for window {window}")


def _device_from_dict(data: Mapping[str, Any], bus: str) -> BusDeviceConfig:
    data = dict(data)
    try:
        kind = DeviceKind(data.pop("kind"))
        default_protocol = ProtocolName.JH if kind is DeviceKind.LED else ProtocolName.FF68
        dev = BusDeviceConfig(
            kind=kind,
            address=int(data.pop("address")),
            window=int(data.pop("window")),
            protocol=ProtocolName(data.pop("protocol", default_protocol)),
            keys=int(data.pop("keys", 5)),
        )
    except (KeyError, ValueError, TypeError) as err:
        raise ConfigError(f"bus {bus}: bad device entry: {err}") from err
    if data:
        raise ConfigError(f"bus {bus}: unknown device settings {sorted(data)}")
    return dev


class Connection(enum.StrEnum):
    SERIAL = "serial"
    USB = "usb"  # /dev/usb/lpN (usblp)
    TCP = "tcp"  # raw TCP, usually port 9100


@dataclass(frozen=True)
class PrinterConfig:
    name: str
    connection: Connection
    port: str = ""  # serial: device path or pyserial URL
    baudrate: int = 9600
    device: str = "/dev/usb/lp0"  # usb
    host: str = ""  # tcp
    tcp_port: int = 9100
    status_query: bool = True  # ask DLE EOT before printing and for health
    status_timeout: float = 0.5  # seconds per status answer
    status_interval: float = 10.0  # how often health is refreshed
    retries: int = 2
    reopen_initial: float = 0.5
    reopen_max: float = 10.0
    layout: TicketLayout = field(default_factory=TicketLayout)

    def __post_init__(self) -> None:
        if self.connection is Connection.SERIAL and not self.port:
            raise ConfigError(f"printer {self.name}: a serial printer needs 'port'")
        if self.connection is Connection.TCP and not self.host:
            raise ConfigError(f"printer {self.name}: a network printer needs 'host'")
        if self.retries < 1 or self.status_timeout <= 0:
            raise ConfigError(f"printer {self.name}: retries >= 1 and status_timeout > 0")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrinterConfig:
        data = dict(data)
        name = str(data.get("name", "printer"))
        layout_data = dict(data.pop("layout", {}))
        layout_fields = {f.name: f for f in dataclasses.fields(TicketLayout)}
        unknown = set(layout_data) - set(layout_fields)
        if unknown:
            raise ConfigError(f"printer {name}: unknown layout settings {sorted(unknown)}")
        for key, value in list(layout_data.items()):
            if isinstance(value, list):
                layout_data[key] = tuple(value)
        own = {f.name for f in dataclasses.fields(cls)} - {"layout"}
        unknown = set(data) - own
        if unknown:
            raise ConfigError(f"printer {name}: unknown settings {sorted(unknown)}")
        try:
            data["connection"] = Connection(data.get("connection", "usb"))
            return cls(**data, layout=TicketLayout(**layout_data))
        except (TypeError, ValueError) as err:
            if isinstance(err, ConfigError):
                raise
            raise ConfigError(f"printer {name}: {err}") from err


@dataclass(frozen=True)
class DriversConfig:
    buses: tuple[BusConfig, ...] = ()
    printers: tuple[PrinterConfig, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriversConfig:
        unknown = set(data) - {"buses", "printers"}
        if unknown:
            raise ConfigError(f"unknown sections {sorted(unknown)}")
        buses = tuple(BusConfig.from_dict(b) for b in data.get("buses", []))
        printers = tuple(PrinterConfig.from_dict(p) for p in data.get("printers", []))
        names = [b.name for b in buses] + [p.name for p in printers]
        if len(set(names)) != len(names):
            raise ConfigError("bus and printer names must be unique")
        return cls(buses=buses, printers=printers)


def load_toml(path: str) -> DriversConfig:
    import tomllib

    with open(path, "rb") as fh:
        return DriversConfig.from_dict(tomllib.load(fh))
