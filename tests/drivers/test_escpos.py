"""ESC/POS: Chinese text, a whole ticket as golden bytes, status parsing, the stream reader."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.protocols import escpos
from drivers.protocols.errors import CodecError
from drivers.protocols.escpos import PrinterStatus, StatusKind
from drivers.protocols.escpos_reader import (
    Cut,
    EscPosReader,
    PrintedLine,
    QrPrinted,
    Reset,
    StatusRequest,
)
from drivers.protocols.text import encode_gb
from drivers.protocols.ticket import TicketContent, TicketLayout, render_ticket

ROOT = Path(__file__).resolve().parents[2]

TICKET = TicketContent(
    hall_name="某某区政务服务中心",
    service_name="社保医保",
    number="A023",
    waiting=5,
    issued_at=datetime(2025, 3, 4, 9, 30),
    estimated_wait_minutes=12,
    status_url="https://q.example/t/abc",
    notes=("（）！",),
)


def gb(text: str) -> bytes:
    return text.encode("gb18030")


def test_whole_chinese_ticket_golden_bytes() -> None:
    url = b"https://q.example/t/abc"
    expected = b"".join(
        [
            bytes.fromhex("1B 40"),  # ESC @
            bytes.fromhex("1C 26"),  # FS &: Chinese mode
            bytes.fromhex("1B 61 01"),  # centre
            bytes.fromhex("1B 45 01 1D 21 11"),  # bold, double size
            bytes.fromhex("C4 B3 C4 B3 C7 F8 D5 FE CE F1 B7 FE CE F1 D6 D0 D0 C4 0A"),
            bytes.fromhex("1D 21 00 1B 45 00"),
            bytes.fromhex("C9 E7 B1 A3 D2 BD B1 A3 0A"),  # 社保医保
            bytes.fromhex("1D 21 33 1B 45 01"),  # 4x4, bold
            b"A023\n",
            bytes.fromhex("1B 45 00 1D 21 00"),
            gb("前方还有 5 人") + b"\n",
            gb("预计等候约 12 分钟") + b"\n",
            bytes.fromhex("1D 28 6B 04 00 31 41 32 00"),  # QR model 2
            bytes.fromhex("1D 28 6B 03 00 31 43 06"),  # module size 6
            bytes.fromhex("1D 28 6B 03 00 31 45 31"),  # error correction M
            bytes.fromhex("1D 28 6B") + bytes((len(url) + 3, 0)) + b"\x31\x50\x30" + url,
            bytes.fromhex("1D 28 6B 03 00 31 51 30"),  # print the symbol
            gb("扫码查看排队进度") + b"\n",
            gb("取号时间：2025-03-04 09:30") + b"\n",
            bytes.fromhex("B9 FD BA C5 C7 EB D6 D8 D0 C2 C8 A1 BA C5 0A"),  # 过号请重新取号
            bytes.fromhex("A3 A8 A3 A9 A3 A1 0A"),  # （）！ still double-byte, not "???"
            bytes.fromhex("1B 61 00"),
            bytes.fromhex("1B 64 03"),  # feed 3 lines
            bytes.fromhex("1D 56 42 00"),  # GS V 66 0: partial cut
        ]
    )
    assert render_ticket(TICKET) == expected


def test_layout_options_change_the_ticket() -> None:
    layout = TicketLayout(
        qr=False,
        notes=(),
        number_width=3,
        number_height=3,
        header_lines=("欢迎",),
        wait_text="约{minutes}分",
    )
    data = render_ticket(TICKET, layout)
    assert b"\x1d\x28\x6b" not in data
    assert b"\x1d\x21\x22A023\n" in data.replace(b"\x1b\x45\x01", b"")
    assert gb("过号请重新取号") not in data
    assert gb("欢迎\n") in data and gb("约12分\n") in data


def test_text_encoding_replaces_what_printers_cannot_print() -> None:
    assert encode_gb("（）！") == bytes.fromhex("A3 A8 A3 A9 A3 A1")
    assert encode_gb("张𠀀三😀") == gb("张") + b"?" + gb("三") + b"?"
    assert encode_gb("a\x1b@b\tc") == b"a @b c"  # no command injection through text
    assert encode_gb("x\u00a0y\u200bz") == b"x yz"
    assert encode_gb("\udcff") == b" "  # lone surrogate: a control-like category
    assert encode_gb("A", replacement="*") == b"A"


@given(st.text(max_size=50))
def test_text_encoding_never_fails_and_has_no_4_byte_sequences(text: str) -> None:
    data = encode_gb(text)
    assert b"\x1b" not in data and b"\x1c" not in data and b"\x1d" not in data
    decoded = data.decode("gb18030")  # always valid
    assert all(len(ch.encode("gb18030")) <= 2 for ch in decoded)


def test_command_builders() -> None:
    assert escpos.size(2, 3) == bytes.fromhex("1D 21 12")
    assert escpos.partial_cut(5) == bytes.fromhex("1D 56 42 05")
    assert escpos.full_cut() == bytes.fromhex("1D 56 41 00")
    assert escpos.status_request(StatusKind.PAPER) == bytes.fromhex("10 04 04")
    with pytest.raises(CodecError):
        escpos.size(9, 1)
    with pytest.raises(CodecError):
        escpos.qr_code("")
    with pytest.raises(CodecError):
        escpos.qr_code("x", ec="Z")
    with pytest.raises(CodecError):
        escpos.feed(300)


def test_status_parsing() -> None:
    ok = escpos.parse_status({1: 0x12, 2: 0x12, 4: 0x12})
    assert ok.can_print and ok.problems == [] and ok.warnings == []
    near = escpos.parse_status({1: 0x12, 2: 0x12, 4: 0x1E})
    assert near.paper_near_end and near.can_print and near.warnings == ["paper near end"]
    out = escpos.parse_status({1: 0x1A, 2: 0x32, 4: 0x72})
    assert out.paper_out and out.offline and out.problems == ["paper out"]
    cover = escpos.parse_status({1: 0x1A, 2: 0x16})
    assert cover.cover_open and cover.problems == ["cover open"]
    offline = escpos.parse_status({1: 0x1A})
    assert offline.problems == ["offline"]
    cutter = escpos.parse_status({3: 0x1A})
    assert cutter.cutter_error and not cutter.can_print
    with pytest.raises(CodecError):
        escpos.parse_status({4: 0xFF})
    with pytest.raises(CodecError):
        escpos.parse_status({5: 0x12})


@pytest.mark.parametrize(
    "status",
    [
        PrinterStatus(),
        PrinterStatus(paper_near_end=True),
        PrinterStatus(paper_out=True),
        PrinterStatus(cover_open=True),
        PrinterStatus(cutter_error=True),
        PrinterStatus(unrecoverable_error=True),
    ],
)
def test_status_bytes_roundtrip(status: PrinterStatus) -> None:
    answers = {k: escpos.status_byte(StatusKind(k), status) for k in (1, 2, 3, 4)}
    parsed = escpos.parse_status(answers)
    assert parsed.problems == status.problems
    assert parsed.paper_near_end == status.paper_near_end


def test_scan_status_skips_garbage() -> None:
    assert escpos.scan_status(b"") == (0, None)
    assert escpos.scan_status(b"\xff\x00\x12") == (2, None)
    assert escpos.scan_status(b"\x12") == (1, 0x12)
    assert escpos.scan_status(b"\xff") == (1, None)


@given(st.binary(max_size=64))
def test_scan_status_fuzz(data: bytes) -> None:
    consumed, value = escpos.scan_status(data)
    assert 0 <= consumed <= len(data)
    assert (consumed == 0) == (not data)
    if value is not None:
        assert escpos.is_status_byte(value)


def test_reader_reads_the_ticket_back() -> None:
    events = EscPosReader().feed(render_ticket(TICKET))
    lines = [e for e in events if isinstance(e, PrintedLine)]
    assert [line.text for line in lines] == [
        "某某区政务服务中心",
        "社保医保",
        "A023",
        "前方还有 5 人",
        "预计等候约 12 分钟",
        "扫码查看排队进度",
        "取号时间：2025-03-04 09:30",
        "过号请重新取号",
        "（）！",
    ]
    number = lines[2]
    assert (number.width, number.height, number.bold, number.align) == (4, 4, True, 1)
    assert QrPrinted("https://q.example/t/abc") in events
    assert events[0] == Reset() and events[-1] == Cut(partial=True)


def test_reader_without_chinese_mode_prints_garbage_like_a_printer() -> None:
    events = EscPosReader().feed(b"\x1b@" + gb("取号") + b"\n")
    line = events[-1]
    assert isinstance(line, PrintedLine) and line.text != "取号"
    powered_up_chinese = EscPosReader(chinese_at_reset=True).feed(b"\x1b@" + gb("取号") + b"\n")
    assert powered_up_chinese[-1] == PrintedLine("取号")


def test_reader_handles_split_input_and_status_requests() -> None:
    reader = EscPosReader()
    data = b"\x1c&" + gb("你好") + b"\n\x10\x04\x04\x1dV\x01"
    events = []
    for byte in data:
        events += reader.feed(bytes((byte,)))
    assert events == [PrintedLine("你好"), StatusRequest(4), Cut(partial=True)]


@given(st.binary(max_size=400), st.integers(1, 50))
def test_reader_fuzz_never_raises(data: bytes, chunk: int) -> None:
    reader = EscPosReader(chinese_at_reset=True)
    for i in range(0, len(data), chunk):
        reader.feed(data[i : i + chunk])


def test_python_escpos_import_is_quiet() -> None:
    # In a fresh interpreter: no stdout, no handler left on the root logger.
    code = (
        "import logging\n"
        "from drivers.protocols import escpos\n"
        "escpos.qr_code('x')\n"
        "assert logging.getLogger().handlers == [], logging.getLogger().handlers\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
