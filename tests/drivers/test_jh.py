"""jiaohao's own frame: CRC check values, golden bytes, split and garbage input, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.protocols import jh
from drivers.protocols.crc import crc16_modbus, crc16_modbus_bytes
from drivers.protocols.errors import CodecError
from drivers.protocols.jh import Cmd, JhFrame
from drivers.protocols.stream import FrameStream, Skip


def test_crc_check_values() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37
    assert crc16_modbus_bytes(bytes.fromhex("01 03 00 00 00 01")) == bytes.fromhex("84 0A")
    assert crc16_modbus(b"") == 0xFFFF


def test_golden_poll_and_ack() -> None:
    # body 05 01 00: CRC-16/MODBUS 0x5160, low byte first
    assert jh.poll(5) == bytes.fromhex("02 05 01 00 60 51 03")
    assert jh.ack(5, Cmd.POLL) == bytes.fromhex("02 05 06 01 01 20 B9 03")


def _bitwise_crc(data: bytes) -> bytes:
    """An independent bit-by-bit CRC-16/MODBUS to check the table-driven one."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


@given(st.binary(max_size=64))
def test_table_crc_matches_bitwise(data: bytes) -> None:
    assert crc16_modbus_bytes(data) == _bitwise_crc(data)


def test_golden_show_ticket() -> None:
    wire = jh.show_ticket(21, "A023", 3)
    body = bytes.fromhex("15 30 05 03 41 30 32 33")
    assert wire == b"\x02" + body + crc16_modbus_bytes(body) + b"\x03"


def test_golden_idle_and_paused_text_is_gb18030() -> None:
    idle = "热情为您服务".encode("gb18030")
    assert idle == bytes.fromhex("C8 C8 C7 E9 CE AA C4 FA B7 FE CE F1")
    body = bytes((21, 0x31, len(idle))) + idle
    assert jh.show_idle(21) == b"\x02" + body + crc16_modbus_bytes(body) + b"\x03"
    paused = jh.show_paused(21)
    assert jh.decode(paused) == (len(paused), JhFrame(21, 0x32, "暂停服务".encode("gb18030")))
    assert jh.text_of(JhFrame(21, 0x32, "暂停服务".encode("gb18030"))) == "暂停服务"


def test_golden_waiting_key_rating_nack() -> None:
    assert jh.decode(jh.show_waiting(2, 300))[1] == JhFrame(2, 0x33, b"\x01\x2c")
    assert jh.decode(jh.key_event(2, 9, 0x0C))[1] == JhFrame(2, 0x20, b"\x09\x0c")
    assert jh.decode(jh.rating_event(2, 1, 5))[1] == JhFrame(2, 0x21, b"\x01\x05")
    assert jh.decode(jh.nack(2, 0x30, 3))[1] == JhFrame(2, 0x15, b"\x30\x03")
    assert jh.decode(jh.keypad_show(2, "A023", 12))[1] == JhFrame(2, 0x34, b"\x00\x0cA023")
    assert jh.decode(jh.invite_rating(4))[1] == JhFrame(4, 0x40, b"")
    assert jh.decode(jh.beep(4))[1] == JhFrame(4, 0x35, b"")


def test_encoders_validate() -> None:
    with pytest.raises(CodecError):
        jh.encode(1, 1, bytes(129))
    with pytest.raises(CodecError):
        jh.show_ticket(1, "", 3)
    with pytest.raises(CodecError):
        jh.show_ticket(1, "A\x1b1", 3)
    with pytest.raises(CodecError):
        jh.show_idle(1, "很长" * 40)
    with pytest.raises(CodecError):
        jh.rating_event(1, 0, 6)


def test_rare_characters_are_replaced_not_fatal() -> None:
    wire = jh.show_idle(1, "欢迎𠀀😀")  # both need 4-byte GB18030
    frame = jh.decode(wire)[1]
    assert frame is not None
    assert jh.text_of(frame) == "欢迎??"


def test_need_more_for_every_prefix() -> None:
    frame = jh.show_ticket(3, "B101", 2)
    for cut in range(len(frame)):
        assert jh.decode(frame[:cut]) == (0, None)


def test_garbage_and_corruption_are_counted() -> None:
    good = jh.key_event(7, 1, 0x0D)
    bad_crc = bytearray(good)
    bad_crc[5] ^= 0xFF
    bad_len = bytes.fromhex("02 07 20 FF")
    bad_end = good[:-1] + b"\x04"
    stream = FrameStream(jh.scan)
    got = stream.feed(b"\x55\xaa" + bytes(bad_crc) + bad_len + bad_end + good)
    assert got == [JhFrame(7, 0x20, b"\x01\x0d")]
    # resync re-reads the insides of broken frames, which may hold more stray STX bytes
    assert stream.counters.bad_checksum >= 1
    assert stream.counters.bad_length >= 1
    assert stream.counters.bad_framing >= 1
    assert stream.counters.garbage_bytes >= 2


def test_flush_finds_a_frame_hidden_behind_a_bogus_header() -> None:
    # A stray STX with a plausible length would wait for bytes that never come.
    good = jh.ack(3, Cmd.POLL)
    stream = FrameStream(jh.scan)
    assert stream.feed(b"\x02\x01\x01\x40" + good) == []
    assert stream.flush() == [JhFrame(3, Cmd.ACK, b"\x01")]


frames = st.builds(
    JhFrame,
    address=st.integers(0, 255),
    command=st.integers(0, 255),
    payload=st.binary(max_size=40),
)
noise = st.binary(max_size=30).map(lambda b: b.replace(b"\x02", b"\x00"))


@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    consumed, frame, skip = jh.scan(data)
    assert 0 <= consumed <= len(data)
    if consumed == 0:
        assert len(data) < jh.MAX_PAYLOAD + jh.OVERHEAD
    else:
        assert (frame is None) != (skip is None)
        if skip is not None:
            assert isinstance(skip, Skip)
    stream = FrameStream(jh.scan)
    stream.feed(data)
    stream.flush()
    assert stream.pending == 0


@given(st.lists(st.tuples(noise, frames), max_size=8), noise, st.data())
def test_frames_in_noise_are_all_recovered(
    parts: list[tuple[bytes, JhFrame]], tail: bytes, data: st.DataObject
) -> None:
    wire = b"".join(n + jh.encode_frame(f) for n, f in parts) + tail
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    stream = FrameStream(jh.scan)
    got = []
    prev = 0
    for cut in [*cuts, len(wire)]:
        got += stream.feed(wire[prev:cut])
        prev = cut
    got += stream.flush()
    assert got == [f for _, f in parts]


@given(frames)
def test_roundtrip(frame: JhFrame) -> None:
    wire = jh.encode_frame(frame)
    assert jh.decode(wire) == (len(wire), frame)
