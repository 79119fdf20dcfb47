"""Byte transports: serial (pyserial URLs), TCP, USB printer device file, in-memory fake."""

from .base import Transport, TransportError
from .fake import FakeTransport, null_modem_pair
from .serial_port import SerialTransport
from .tcp import TcpTransport
from .usb_lp import UsbPrinterTransport

__all__ = [
    "FakeTransport",
    "SerialTransport",
    "TcpTransport",
    "Transport",
    "TransportError",
    "UsbPrinterTransport",
    "null_modem_pair",
]
