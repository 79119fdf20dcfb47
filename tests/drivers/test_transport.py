"""Transports: bytes only, errors converted to TransportError at the boundary."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import tty
from collections.abc import Iterator

import pytest

from drivers.transport import (
    SerialTransport,
    TcpTransport,
    Transport,
    TransportError,
    UsbPrinterTransport,
    null_modem_pair,
)


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        yield master, os.ttyname(slave)
    finally:
        for fd in (master, slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def read_all(t: Transport, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = t.read(n - len(out), 2.0)
        assert chunk, "nothing arrived"
        out += chunk
    return out


def test_serial_transport_on_a_pty(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    t = SerialTransport(path, baudrate=19200)
    assert not t.is_open
    t.open()
    assert t.is_open and t.name == path
    t.write(b"\xff\x68\x00\x16")
    assert os.read(master, 16) == b"\xff\x68\x00\x16"
    os.write(master, b"\x02\x00\x03\x11\x13")  # XON/XOFF bytes pass untouched
    assert read_all(t, 5) == b"\x02\x00\x03\x11\x13"
    assert t.read(10, 0.0) == b""
    t.close()
    assert not t.is_open
    t.close()  # closing twice is fine


def test_serial_rs485_mode_fails_on_a_pty_as_a_transport_error(pty_pair: tuple[int, str]) -> None:
    _, path = pty_pair
    t = SerialTransport(path, rs485=True)
    with pytest.raises(TransportError) as info:
        t.open()
    assert info.value.__cause__ is not None
    assert not t.is_open


def test_serial_errors_are_transport_errors(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    with pytest.raises(TransportError):
        SerialTransport("/nonexistent/ttyUSB9").open()
    with pytest.raises(ValueError):
        SerialTransport(path, parity="X")
    t = SerialTransport(path)
    with pytest.raises(TransportError):
        t.write(b"x")  # not open
    t.open()
    os.close(master)  # the adapter vanishes
    with pytest.raises(TransportError):
        for _ in range(3):
            t.read(1, 0.5)
            t.write(b"x")
    t.close()


def test_serial_url_handlers() -> None:
    t = SerialTransport("loop://")
    t.open()
    t.write(b"hello")
    assert read_all(t, 5) == b"hello"
    t.close()


def test_socket_url_and_tcp_transport() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(2)
    port = server.getsockname()[1]

    def echo_twice() -> None:
        for _ in range(2):
            conn, _ = server.accept()
            with conn:
                data = conn.recv(100)
                conn.sendall(data.upper())

    thread = threading.Thread(target=echo_twice, daemon=True)
    thread.start()
    via_pyserial = SerialTransport(f"socket://127.0.0.1:{port}")
    via_pyserial.open()
    via_pyserial.write(b"abc")
    assert read_all(via_pyserial, 3) == b"ABC"
    via_pyserial.close()

    tcp = TcpTransport("127.0.0.1", port)
    tcp.open()
    assert tcp.name == f"tcp://127.0.0.1:{port}"
    tcp.write(b"xyz")
    assert read_all(tcp, 3) == b"XYZ"
    with pytest.raises(TransportError, match="closed"):
        tcp.read(10, 2.0)  # the server hung up
    assert not tcp.is_open
    thread.join(5)
    server.close()
    with pytest.raises(TransportError):
        TcpTransport("127.0.0.1", port, connect_timeout=1).open()


def test_usb_printer_file_transport(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    t = UsbPrinterTransport(path)
    t.open()
    t.write(b"\x1b@")
    assert os.read(master, 10) == b"\x1b@"
    os.write(master, b"\x12")
    assert t.read(1, 2.0) == b"\x12"
    assert t.read(1, 0.0) == b""
    t.close()
    with pytest.raises(TransportError):
        UsbPrinterTransport("/dev/usb/lp99-missing").open()
    with pytest.raises(TransportError):
        t.read(1, 0)


def test_null_modem_pair() -> None:
    host, device = null_modem_pair()
    host.open()
    device.open()
    host.write(b"ping")
    assert device.read(10, 1.0) == b"ping"
    device.write(b"pong")
    assert host.read(2, 1.0) == b"po" and host.read(10, 1.0) == b"ng"
    assert host.read(10, 0.0) == b""
    host.unplug()
    with pytest.raises(TransportError):
        host.write(b"x")
    with pytest.raises(TransportError):
        host.open()
    host.plug()
    host.open()
    assert host.writes == [b"ping"]
