"""Reads an ESC/POS byte stream back into lines, QR codes, cuts and status requests.

This is the printer's side of :mod:`drivers.protocols.escpos`, used by the printer
simulator (and by tests) to check what a real printer would have printed. Pure and
incremental: ``feed`` bytes as they arrive, get events; any bytes are accepted.
Text is read as GB18030 only in Chinese mode (after ``FS &``), as a real printer would:
without it, double-byte text comes out as code-page garbage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .text import decode_gb

MAX_BLOCK = 16384  # longest GS ( k / raster block believed; longer ones are garbage


@dataclass(frozen=True)
class PrintedLine:
    text: str
    width: int = 1
    height: int = 1
    bold: bool = False
    align: int = 0


@dataclass(frozen=True)
class QrPrinted:
    data: str


@dataclass(frozen=True)
class Cut:
    partial: bool


@dataclass(frozen=True)
class StatusRequest:
    kind: int  # DLE EOT n


@dataclass(frozen=True)
class Reset:
    pass


PrinterEvent = PrintedLine | QrPrinted | Cut | StatusRequest | Reset

_ESC_ONE_PARAM = set(b"!-3aEGJMRtVd{ cU")
_ESC_NO_PARAM = set(b"2=")
_FS_ONE_PARAM = set(b"!-CWS")
_GS_ONE_PARAM = set(b"!BHhwfaLbIr")


@dataclass
class EscPosReader:
    chinese_at_reset: bool = False  # some printers power up in Chinese mode; the strict kind not
    chinese: bool = False
    width: int = 1
    height: int = 1
    bold: bool = False
    align: int = 0
    unknown_commands: int = 0
    _buffer: bytearray = field(default_factory=bytearray)
    _line: list[str] = field(default_factory=list)
    _qr: bytes = b""

    def __post_init__(self) -> None:
        self.chinese = self.chinese_at_reset

    def feed(self, data: bytes) -> list[PrinterEvent]:
        self._buffer += data
        events: list[PrinterEvent] = []
        pos = 0
        buf = bytes(self._buffer)
        while pos < len(buf):
            step = self._one(buf, pos, events)
            if step == 0:
                break
            pos += step
        del self._buffer[:pos]
        return events

    # Each handler returns how many bytes it used, 0 for "need more".
    def _one(self, buf: bytes, i: int, events: list[PrinterEvent]) -> int:
        b = buf[i]
        if b == 0x0A:
            self._emit_line(events)
            return 1
        if b == 0x1B:
            return self._esc(buf, i, events)
        if b == 0x1C:
            return self._fs(buf, i)
        if b == 0x1D:
            return self._gs(buf, i, events)
        if b == 0x10:
            if i + 1 >= len(buf):
                return 0
            if buf[i + 1] == 0x04:
                if i + 2 >= len(buf):
                    return 0
                events.append(StatusRequest(buf[i + 2]))
                return 3
            return 2
        if b < 0x20 or b == 0x7F:
            return 1  # CR and other controls print nothing
        if b < 0x80:
            self._line.append(chr(b))
            return 1
        if not self.chinese:
            self._line.append(bytes((b,)).decode("cp437"))
            return 1
        if 0x81 <= b <= 0xFE:
            if i + 1 >= len(buf):
                return 0
            trail = buf[i + 1]
            if 0x40 <= trail <= 0xFE and trail != 0x7F:
                self._line.append(decode_gb(bytes((b, trail))))
                return 2
        self._line.append("\ufffd")
        return 1

    def _emit_line(self, events: list[PrinterEvent]) -> None:
        text = "".join(self._line)
        self._line.clear()
        events.append(PrintedLine(text, self.width, self.height, self.bold, self.align))

    def _esc(self, buf: bytes, i: int, events: list[PrinterEvent]) -> int:
        if i + 1 >= len(buf):
            return 0
        c = buf[i + 1]
        if c == 0x40:  # ESC @
            self.chinese = self.chinese_at_reset
            self.width = self.height = 1
            self.bold = False
            self.align = 0
            self._line.clear()
            events.append(Reset())
            return 2
        if c in _ESC_NO_PARAM:
            return 2
        if c in _ESC_ONE_PARAM:
            if i + 2 >= len(buf):
                return 0
            n = buf[i + 2]
            if c == ord("E"):
                self.bold = bool(n & 1)
            elif c == ord("a"):
                self.align = n % 48 if n >= 48 else n
            elif c == ord("!"):
                self.width = 2 if n & 0x20 else 1
                self.height = 2 if n & 0x10 else 1
                self.bold = bool(n & 0x08)
            elif c == ord("d") and self._line:
                self._emit_line(events)
            return 3
        if c == ord("p"):  # ESC p m t1 t2: drawer kick
            return 5 if i + 4 < len(buf) else 0
        self.unknown_commands += 1
        return 2

    def _fs(self, buf: bytes, i: int) -> int:
        if i + 1 >= len(buf):
            return 0
        c = buf[i + 1]
        if c == ord("&"):
            self.chinese = True
            return 2
        if c == ord("."):
            self.chinese = False
            return 2
        if c in _FS_ONE_PARAM:
            return 3 if i + 2 < len(buf) else 0
        self.unknown_commands += 1
        return 2

    def _gs(self, buf: bytes, i: int, events: list[PrinterEvent]) -> int:
        if i + 1 >= len(buf):
            return 0
        c = buf[i + 1]
        if c == ord("!"):
            if i + 2 >= len(buf):
                return 0
            n = buf[i + 2]
            self.width = ((n >> 4) & 0x07) + 1
            self.height = (n & 0x07) + 1
            return 3
        if c == ord("V"):
            if i + 2 >= len(buf):
                return 0
            m = buf[i + 2]
            used = 3
            if m in (65, 66, 97, 98, 103, 104):  # forms that carry a feed amount n
                if i + 3 >= len(buf):
                    return 0
                used = 4
            if self._line:
                self._emit_line(events)
            events.append(Cut(partial=m in (1, 49, 66, 98, 104)))
            return used
        if c == ord("("):
            return self._gs_paren(buf, i, events)
        if c == ord("v"):  # GS v 0 m xL xH yL yH d1...dk: raster image
            if i + 7 >= len(buf):
                return 0
            size = (buf[i + 4] + 256 * buf[i + 5]) * (buf[i + 6] + 256 * buf[i + 7])
            if size > MAX_BLOCK * 8:
                self.unknown_commands += 1
                return 2
            return 8 + size if i + 8 + size <= len(buf) else 0
        if c in _GS_ONE_PARAM:
            return 3 if i + 2 < len(buf) else 0
        self.unknown_commands += 1
        return 2

    def _gs_paren(self, buf: bytes, i: int, events: list[PrinterEvent]) -> int:
        if i + 4 >= len(buf):
            return 0
        length = buf[i + 3] + 256 * buf[i + 4]
        if length > MAX_BLOCK:
            self.unknown_commands += 1
            return 2
        end = i + 5 + length
        if end > len(buf):
            return 0
        params = buf[i + 5 : end]
        # GS ( k cn=49 (QR): fn 80 stores the data (after cn fn m), fn 81 prints it.
        if buf[i + 2] == ord("k") and len(params) >= 2 and params[0] == 49:
            if params[1] == 80 and len(params) >= 3:
                self._qr = params[3:]
            elif params[1] == 81:
                events.append(QrPrinted(self._qr.decode("utf-8", errors="replace")))
        return 5 + length
