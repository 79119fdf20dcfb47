"""jiaohao's own frame for boards running custom firmware (LED window boards, pads, keypads).

``STX ADDR CMD LEN PAYLOAD... CRC_LO CRC_HI ETX``: STX = 0x02, ETX = 0x03, LEN counts
the payload (0-128), CRC-16/MODBUS over ADDR, CMD, LEN and the payload, low byte first.
Text payloads are GB18030 (1-/2-byte sequences only). Full spec in docs/protocols.md.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .crc import crc16_modbus_bytes
from .errors import CodecError
from .stream import ScanResult, Skip
from .text import decode_gb, encode_gb

STX = 0x02
ETX = 0x03
MAX_PAYLOAD = 128
OVERHEAD = 7  # STX ADDR CMD LEN ... CRC CRC ETX
BROADCAST = 0x00


class Cmd(enum.IntEnum):
    POLL = 0x01  # host -> device, no payload
    ACK = 0x06  # either way: [acked CMD] or, for events, [acked CMD, seq]
    NACK = 0x15  # device -> host: [rejected CMD, reason]
    KEY = 0x20  # keypad -> host: [seq, key code] (codes as in the FF 68 family)
    RATING = 0x21  # evaluator -> host: [seq, level 1-5]
    SHOW_TICKET = 0x30  # host -> LED board: [window, ticket number ASCII...]
    SHOW_IDLE = 0x31  # host -> LED board: GB18030 text (热情为您服务)
    SHOW_PAUSED = 0x32  # host -> LED board: GB18030 text (暂停服务)
    SHOW_WAITING = 0x33  # host -> LED board: waiting count, u16 big-endian
    KEYPAD_SHOW = 0x34  # host -> keypad: [waiting u16 BE, ticket number ASCII...]
    BEEP = 0x35  # host -> keypad / evaluator, no payload
    INVITE_RATING = 0x40  # host -> evaluator: light the "请评价" prompt


class NackReason(enum.IntEnum):
    UNKNOWN_COMMAND = 0x01
    BAD_PAYLOAD = 0x02
    TEXT_TOO_LONG = 0x03
    BUSY = 0x04


@dataclass(frozen=True)
class JhFrame:
    address: int
    command: int
    payload: bytes = b""


def encode(address: int, command: int, payload: bytes = b"") -> bytes:
    if not 0 <= address <= 0xFF:
        raise CodecError(f"address {address} out of range 0-255")
    if not 0 <= command <= 0xFF:
        raise CodecError(f"command {command} out of range 0-255")
    if len(payload) > MAX_PAYLOAD:
        raise CodecError(f"payload of {len(payload)} bytes; at most {MAX_PAYLOAD}")
    body = bytes((address, command, len(payload))) + bytes(payload)
    return bytes((STX,)) + body + crc16_modbus_bytes(body) + bytes((ETX,))


def encode_frame(frame: JhFrame) -> bytes:
    return encode(frame.address, frame.command, frame.payload)


def scan(buffer: bytes) -> ScanResult[JhFrame]:
    """Decode one frame; see :mod:`drivers.protocols.stream` for the contract."""
    if not buffer:
        return 0, None, None
    start = buffer.find(STX)
    if start < 0:
        return len(buffer), None, Skip.GARBAGE
    if start > 0:
        return start, None, Skip.GARBAGE
    if len(buffer) < 4:
        return 0, None, None
    length = buffer[3]
    if length > MAX_PAYLOAD:
        return 1, None, Skip.BAD_LENGTH
    total = length + OVERHEAD
    if len(buffer) < total:
        return 0, None, None
    if buffer[total - 1] != ETX:
        return 1, None, Skip.BAD_FRAMING
    body = buffer[1 : 4 + length]
    if crc16_modbus_bytes(body) != buffer[4 + length : 6 + length]:
        return 1, None, Skip.BAD_CHECKSUM
    return total, JhFrame(body[0], body[1], bytes(body[3:])), None


def decode(buffer: bytes) -> tuple[int, JhFrame | None]:
    """``(consumed, frame)``; 0 consumed means "need more", frame None means skipped."""
    consumed, frame, _ = scan(buffer)
    return consumed, frame


# --- message encoders ----------------------------------------------------------------

MAX_TEXT_BYTES = MAX_PAYLOAD


def poll(address: int) -> bytes:
    return encode(address, Cmd.POLL)


def ack(address: int, command: int, seq: int | None = None) -> bytes:
    payload = bytes((command,)) if seq is None else bytes((command, seq & 0xFF))
    return encode(address, Cmd.ACK, payload)


def nack(address: int, command: int, reason: int) -> bytes:
    return encode(address, Cmd.NACK, bytes((command, reason)))


def _ascii_ticket(number: str) -> bytes:
    if not number or len(number) > 16 or not number.isascii() or not number.isprintable():
        raise CodecError(f"ticket number must be 1-16 printable ASCII characters: {number!r}")
    return number.encode("ascii")


def show_ticket(address: int, number: str, window: int) -> bytes:
    if not 0 <= window <= 0xFF:
        raise CodecError(f"window {window} out of range 0-255")
    return encode(address, Cmd.SHOW_TICKET, bytes((window,)) + _ascii_ticket(number))


def _text(text: str) -> bytes:
    data = encode_gb(text.replace("\n", " "))
    if len(data) > MAX_TEXT_BYTES:
        raise CodecError(f"text is {len(data)} bytes in GB18030; at most {MAX_TEXT_BYTES}")
    return data


def show_idle(address: int, text: str = "热情为您服务") -> bytes:
    return encode(address, Cmd.SHOW_IDLE, _text(text))


def show_paused(address: int, text: str = "暂停服务") -> bytes:
    return encode(address, Cmd.SHOW_PAUSED, _text(text))


def show_waiting(address: int, count: int) -> bytes:
    return encode(address, Cmd.SHOW_WAITING, max(0, min(count, 0xFFFF)).to_bytes(2, "big"))


def keypad_show(address: int, number: str, waiting: int) -> bytes:
    count = max(0, min(waiting, 0xFFFF)).to_bytes(2, "big")
    return encode(address, Cmd.KEYPAD_SHOW, count + (_ascii_ticket(number) if number else b""))


def beep(address: int) -> bytes:
    return encode(address, Cmd.BEEP)


def invite_rating(address: int) -> bytes:
    return encode(address, Cmd.INVITE_RATING)


def key_event(address: int, seq: int, code: int) -> bytes:
    return encode(address, Cmd.KEY, bytes((seq & 0xFF, code)))


def rating_event(address: int, seq: int, level: int) -> bytes:
    if not 1 <= level <= 5:
        raise CodecError(f"rating level {level} out of range 1-5")
    return encode(address, Cmd.RATING, bytes((seq & 0xFF, level)))


def text_of(frame: JhFrame) -> str:
    """The text of a SHOW_IDLE / SHOW_PAUSED frame (simulators use this)."""
    return decode_gb(frame.payload)
