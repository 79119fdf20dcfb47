"""The "FF 68" family of keypads (呼叫器) and 4-key evaluators (评价器).

Frame: ``FF 68 L L 68 ADDR FUNC DATA... CS 16``; L (twice) counts ADDR + FUNC + DATA,
CS = (ADDR + FUNC + sum(DATA)) mod 256. See docs/protocols.md for the whole story,
including the parts jiaohao had to choose (poll and idle answer, sequence byte).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CodecError
from .stream import ScanResult, Skip

HEADER = b"\xff\x68"
END = 0x16
MAX_L = 64  # longest frame body jiaohao accepts; real frames are under 10 bytes
MIN_L_FROM_DEVICE = 3  # L <= 2 from a keypad is a protocol error
MIN_L_FROM_HOST = 2  # host commands such as BEEP carry no data

# FUNC codes
FUNC_KEY = 0x01  # keypad -> host: DATA = [seq, key code]
FUNC_DISPLAY = 0x02  # host -> keypad: six digit bytes (0x0A blank); keypad echoes
FUNC_BEEP = 0x03  # host -> device, no DATA; device echoes
FUNC_POLL = 0x10  # host -> device: DATA = [00]; device answers DATA = [01] if idle
FUNC_RATING = 0x11  # evaluator -> host: DATA = [seq, rating key]

POLL_QUERY = 0x00
POLL_IDLE = 0x01
BLANK = 0x0A


@dataclass(frozen=True)
class Ff68Frame:
    address: int
    func: int
    data: bytes = b""

    @property
    def last(self) -> int | None:
        """The last DATA byte: the key code of a key frame."""
        return self.data[-1] if self.data else None


def checksum(body: bytes) -> int:
    return sum(body) & 0xFF


def encode(address: int, func: int, data: bytes = b"") -> bytes:
    if not 0 <= address <= 0xFF:
        raise CodecError(f"address {address} out of range 0-255")
    if not 0 <= func <= 0xFF:
        raise CodecError(f"FUNC {func} out of range 0-255")
    length = 2 + len(data)
    if length > MAX_L:
        raise CodecError(f"{len(data)} data bytes; at most {MAX_L - 2}")
    body = bytes((address, func)) + bytes(data)
    return HEADER + bytes((length, length, 0x68)) + body + bytes((checksum(body), END))


def encode_frame(frame: Ff68Frame) -> bytes:
    return encode(frame.address, frame.func, frame.data)


def _scan(buf: bytes, min_len: int) -> ScanResult[Ff68Frame]:
    if not buf:
        return 0, None, None
    start = buf.find(HEADER)
    if start < 0:
        keep = 1 if buf[-1] == 0xFF else 0  # may be the first half of a header
        n = len(buf) - keep
        return (n, None, Skip.GARBAGE) if n else (0, None, None)
    if start > 0:
        return start, None, Skip.GARBAGE
    # Reject as soon as the bytes seen so far are impossible, so resync is quick.
    if len(buf) >= 3 and not min_len <= buf[2] <= MAX_L:
        return 2, None, Skip.BAD_LENGTH
    if len(buf) >= 4 and buf[3] != buf[2]:
        return 2, None, Skip.BAD_LENGTH
    if len(buf) >= 5 and buf[4] != 0x68:
        return 2, None, Skip.BAD_FRAMING
    if len(buf) < 5:
        return 0, None, None
    length = buf[2]
    total = length + 7
    if len(buf) < total:
        return 0, None, None
    body = buf[5 : 5 + length]
    if buf[6 + length] != END:
        return 2, None, Skip.BAD_FRAMING
    if checksum(body) != buf[5 + length]:
        return 2, None, Skip.BAD_CHECKSUM
    return total, Ff68Frame(body[0], body[1], bytes(body[2:])), None


def scan(buffer: bytes) -> ScanResult[Ff68Frame]:
    """Decode a device -> host frame; see :mod:`drivers.protocols.stream` for the contract."""
    return _scan(buffer, MIN_L_FROM_DEVICE)


def scan_from_host(buffer: bytes) -> ScanResult[Ff68Frame]:
    """Decode a host -> device frame (devices and simulators listen with this)."""
    return _scan(buffer, MIN_L_FROM_HOST)


def decode(buffer: bytes) -> tuple[int, Ff68Frame | None]:
    """``(consumed, frame)``; 0 consumed means "need more", frame None means skipped."""
    consumed, frame, _ = scan(buffer)
    return consumed, frame


def decode_from_host(buffer: bytes) -> tuple[int, Ff68Frame | None]:
    consumed, frame, _ = scan_from_host(buffer)
    return consumed, frame


# --- encoders for each message -------------------------------------------------------


def display_group(text: str) -> bytes:
    """Three digit bytes for one display group, right-aligned, blanks (0x0A) on the left."""
    if len(text) > 3 or not all(c.isdigit() and c.isascii() for c in text):
        raise CodecError(f"a keypad display group is up to 3 digits, not {text!r}")
    return bytes([BLANK] * (3 - len(text)) + [int(c) for c in text])


def poll(address: int) -> bytes:
    return encode(address, FUNC_POLL, bytes((POLL_QUERY,)))


def idle_reply(address: int) -> bytes:
    return encode(address, FUNC_POLL, bytes((POLL_IDLE,)))


def show(address: int, left: str = "", right: str = "") -> bytes:
    """Host -> keypad: left group (waiting count) and right group (ticket number)."""
    return encode(address, FUNC_DISPLAY, display_group(left) + display_group(right))


def beep(address: int) -> bytes:
    return encode(address, FUNC_BEEP)


def key_event(address: int, seq: int, code: int) -> bytes:
    return encode(address, FUNC_KEY, bytes((seq & 0xFF, code)))


def rating_event(address: int, seq: int, key: int) -> bytes:
    return encode(address, FUNC_RATING, bytes((seq & 0xFF, key)))


def ticket_digits(number: str) -> str:
    """The last three digits of a ticket number ("A023" -> "023") for 3-digit displays."""
    digits = "".join(c for c in number if c.isascii() and c.isdigit())
    return digits[-3:]


def count_digits(count: int) -> str:
    return str(max(0, min(count, 999)))
