"""ESC/POS helpers for receipt printers: commands, Chinese text, QR, cut, DLE EOT status.

Built by hand where python-escpos gets Chinese wrong (it never sends ``FS &`` and turns
punctuation-only lines into "???"); its native QR builder is used through
:mod:`drivers.protocols._escpos_lib`, which silences its import-time side effects.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .errors import CodecError
from .text import encode_gb

ESC = b"\x1b"
GS = b"\x1d"
FS = b"\x1c"
DLE = b"\x10"
LF = b"\n"

INIT = ESC + b"@"  # ESC @: reset
CHINESE_ON = FS + b"&"  # FS &: enter Chinese (double-byte) mode
CHINESE_OFF = FS + b"."  # FS .: leave it


class Align(enum.IntEnum):
    LEFT = 0
    CENTER = 1
    RIGHT = 2


def align(where: Align) -> bytes:
    return ESC + b"a" + bytes((where,))


def bold(on: bool) -> bytes:
    return ESC + b"E" + (b"\x01" if on else b"\x00")


def size(width: int = 1, height: int = 1) -> bytes:
    """GS ! n: character size, 1-8 times in each direction (ASCII and Chinese alike)."""
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise CodecError(f"character size {width}x{height} out of range 1-8")
    return GS + b"!" + bytes((((width - 1) << 4) | (height - 1),))


def feed(lines: int) -> bytes:
    """ESC d n: print and feed n lines."""
    if not 0 <= lines <= 255:
        raise CodecError(f"feed of {lines} lines out of range 0-255")
    return ESC + b"d" + bytes((lines,))


def text_line(text: str) -> bytes:
    """One line of text, GB18030 (1-/2-byte only), ending in LF; never fails on content."""
    return encode_gb(text.replace("\r", "")) + LF


def partial_cut(feed_units: int = 0) -> bytes:
    """GS V 66 n: feed to the cutter (+ n motion units) and cut partially."""
    if not 0 <= feed_units <= 255:
        raise CodecError(f"cut feed {feed_units} out of range 0-255")
    return GS + b"V" + bytes((66, feed_units))


def full_cut(feed_units: int = 0) -> bytes:
    """GS V 65 n: feed to the cutter and cut fully."""
    if not 0 <= feed_units <= 255:
        raise CodecError(f"cut feed {feed_units} out of range 0-255")
    return GS + b"V" + bytes((65, feed_units))


def qr_code(data: str, *, module_size: int = 6, ec: str = "M") -> bytes:
    """Native QR (GS ( k): model 2, module size, error correction, store, print."""
    from ._escpos_lib import native_qr

    if not data:
        raise CodecError("QR content is empty")
    if not 1 <= module_size <= 16:
        raise CodecError(f"QR module size {module_size} out of range 1-16")
    if ec not in ("L", "M", "Q", "H"):
        raise CodecError(f"QR error correction {ec!r} is not one of L, M, Q, H")
    if len(data.encode("utf-8")) > 7000:
        raise CodecError("QR content too long")
    return native_qr(data, module_size, "LMQH".index(ec))


# --- real-time status: DLE EOT n -----------------------------------------------------


class StatusKind(enum.IntEnum):
    PRINTER = 1
    OFFLINE_CAUSE = 2
    ERROR_CAUSE = 3
    PAPER = 4


def status_request(kind: StatusKind) -> bytes:
    return DLE + b"\x04" + bytes((kind,))


def is_status_byte(value: int) -> bool:
    """Every DLE EOT answer has bits 1 and 4 set and bits 0 and 7 clear."""
    return value & 0x93 == 0x12


@dataclass(frozen=True)
class PrinterStatus:
    """What DLE EOT 1, 2, 3 and 4 reported; fields a printer did not answer stay False."""

    offline: bool = False
    cover_open: bool = False
    paper_near_end: bool = False
    paper_out: bool = False
    cutter_error: bool = False
    unrecoverable_error: bool = False
    raw: dict[int, int] = field(default_factory=dict, compare=False)

    @property
    def problems(self) -> list[str]:
        """Reasons, most serious first, that a person at the hall can act on."""
        out = []
        if self.unrecoverable_error:
            out.append("printer error")
        if self.cutter_error:
            out.append("cutter error")
        if self.cover_open:
            out.append("cover open")
        if self.paper_out:
            out.append("paper out")
        if self.offline and not out:
            out.append("offline")
        return out

    @property
    def can_print(self) -> bool:
        return not self.problems

    @property
    def warnings(self) -> list[str]:
        return ["paper near end"] if self.paper_near_end and not self.paper_out else []


def parse_status(answers: dict[int, int]) -> PrinterStatus:
    """Combine the answers to DLE EOT n (key n, value the answer byte)."""
    for kind, value in answers.items():
        if kind not in (1, 2, 3, 4):
            raise CodecError(f"no DLE EOT {kind}")
        if not is_status_byte(value):
            raise CodecError(f"0x{value:02X} is not a DLE EOT {kind} answer")
    printer = answers.get(1, 0x12)
    cause = answers.get(2, 0x12)
    error = answers.get(3, 0x12)
    paper = answers.get(4, 0x12)
    return PrinterStatus(
        offline=bool(printer & 0x08),
        cover_open=bool(cause & 0x04),
        paper_out=bool(paper & 0x60) or bool(cause & 0x20),
        paper_near_end=bool(paper & 0x0C),
        cutter_error=bool(error & 0x08),
        unrecoverable_error=bool(error & 0x20),
        raw=dict(answers),
    )


def status_byte(kind: StatusKind, status: PrinterStatus) -> int:
    """The byte a printer in ``status`` answers to DLE EOT ``kind`` (for simulators)."""
    value = 0x12
    if kind is StatusKind.PRINTER and (status.offline or status.problems):
        value |= 0x08
    elif kind is StatusKind.OFFLINE_CAUSE:
        value |= (0x04 if status.cover_open else 0) | (0x20 if status.paper_out else 0)
        value |= 0x40 if status.unrecoverable_error or status.cutter_error else 0
    elif kind is StatusKind.ERROR_CAUSE:
        value |= (0x08 if status.cutter_error else 0) | (0x20 if status.unrecoverable_error else 0)
    elif kind is StatusKind.PAPER:
        value |= (0x0C if status.paper_near_end else 0) | (0x60 if status.paper_out else 0)
    return value


def scan_status(buffer: bytes) -> tuple[int, int | None]:
    """Decode one status answer byte: ``(consumed, byte)``, garbage skipped as consumed."""
    if not buffer:
        return 0, None
    for i, value in enumerate(buffer):
        if is_status_byte(value):
            return (i, None) if i else (1, value)
    return len(buffer), None
