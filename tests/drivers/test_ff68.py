"""The FF 68 family codec: golden bytes, split and garbage input, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.protocols import ff68
from drivers.protocols.errors import CodecError
from drivers.protocols.ff68 import Ff68Frame
from drivers.protocols.stream import FrameStream, Skip


def test_golden_show_023_on_the_right_of_address_5() -> None:
    expected = bytes.fromhex("FF 68 08 08 68 05 02 0A 0A 0A 00 02 03 2A 16")
    assert ff68.show(5, left="", right="023") == expected


def test_golden_show_waiting_and_number() -> None:
    # left "12" waiting, right "007": body 03 02 0A 01 02 00 00 07 -> sum 0x19
    expected = bytes.fromhex("FF 68 08 08 68 03 02 0A 01 02 00 00 07 19 16")
    assert ff68.show(3, left="12", right="007") == expected


def test_golden_beep_poll_idle_key_rating() -> None:
    assert ff68.beep(5) == bytes.fromhex("FF 68 02 02 68 05 03 08 16")
    assert ff68.poll(1) == bytes.fromhex("FF 68 03 03 68 01 10 00 11 16")
    assert ff68.idle_reply(1) == bytes.fromhex("FF 68 03 03 68 01 10 01 12 16")
    # call next (0C) from address 2, sequence 7
    assert ff68.key_event(2, 7, 0x0C) == bytes.fromhex("FF 68 04 04 68 02 01 07 0C 16 16")
    # rating key 1 from evaluator 9, sequence 0
    assert ff68.rating_event(9, 0, 1) == bytes.fromhex("FF 68 04 04 68 09 11 00 01 1B 16")


def test_decode_golden_frame() -> None:
    data = bytes.fromhex("FF 68 04 04 68 02 01 07 0C 16 16")
    assert ff68.decode(data) == (11, Ff68Frame(2, 0x01, b"\x07\x0c"))
    assert ff68.decode(data)[1] is not None
    assert ff68.Ff68Frame(2, 1, b"\x07\x0c").last == 0x0C


def test_ticket_and_count_digits() -> None:
    assert ff68.ticket_digits("A023") == "023"
    assert ff68.ticket_digits("B1234") == "234"
    assert ff68.count_digits(1500) == "999"
    assert ff68.count_digits(-1) == "0"


@pytest.mark.parametrize("bad", ["1234", "A1", "１"])
def test_display_group_rejects_non_digits(bad: str) -> None:
    with pytest.raises(CodecError):
        ff68.display_group(bad)


def test_encoder_rejects_out_of_range() -> None:
    with pytest.raises(CodecError):
        ff68.encode(256, 1)
    with pytest.raises(CodecError):
        ff68.encode(1, 1, bytes(63))


def test_need_more_for_every_prefix() -> None:
    frame = ff68.key_event(4, 1, 0x0D)
    for cut in range(len(frame)):
        assert ff68.decode(frame[:cut]) == (0, None)


def test_split_frames_through_a_stream() -> None:
    data = ff68.key_event(1, 1, 0x0C) + ff68.rating_event(2, 5, 3)
    stream = FrameStream(ff68.scan)
    got = []
    for byte in data:
        got += stream.feed(bytes((byte,)))
    assert got == [Ff68Frame(1, 1, b"\x01\x0c"), Ff68Frame(2, 0x11, b"\x05\x03")]
    assert stream.counters.frames == 2
    assert stream.counters.garbage_bytes == 0


def test_garbage_bad_checksum_and_bad_lengths_are_skipped_and_counted() -> None:
    good = ff68.key_event(3, 2, 0x12)
    bad_cs = bytearray(good)
    bad_cs[-2] ^= 0x01
    too_short = bytes.fromhex("FF 68 02 02 68 03 01 04 16")  # L <= 2 from a keypad
    mismatch = bytes.fromhex("FF 68 04 05 68 03 01 02 12 18 16")
    no_end = bytes(good[:-1]) + b"\x17"
    data = b"\x00\x68\x16junk" + bytes(bad_cs) + too_short + mismatch + no_end + good
    stream = FrameStream(ff68.scan)
    frames = stream.feed(data)
    assert frames == [Ff68Frame(3, 1, b"\x02\x12")]
    c = stream.counters
    assert c.bad_checksum == 1
    assert c.bad_length == 2
    assert c.bad_framing == 1
    assert c.garbage_bytes > 0


def test_host_frames_may_be_short_but_device_frames_may_not() -> None:
    beep = ff68.beep(7)
    assert ff68.decode_from_host(beep) == (len(beep), Ff68Frame(7, 3, b""))
    consumed, frame, skip = ff68.scan(beep)
    assert (frame, skip) == (None, Skip.BAD_LENGTH)
    assert consumed > 0


def test_a_trailing_ff_is_kept_as_a_possible_header() -> None:
    assert ff68.scan(b"\x01\x02\xff") == (2, None, Skip.GARBAGE)
    assert ff68.decode(b"\xff") == (0, None)


# --- property-based ------------------------------------------------------------------

frames = st.builds(
    Ff68Frame,
    address=st.integers(0, 255),
    func=st.integers(0, 255),
    data=st.binary(min_size=1, max_size=20),
)
noise = st.binary(max_size=30).map(lambda b: b.replace(b"\xff", b"\xfe"))


@given(st.binary(max_size=300))
def test_random_bytes_never_raise_and_always_progress(data: bytes) -> None:
    for scan in (ff68.scan, ff68.scan_from_host):
        consumed, frame, skip = scan(data)
        assert 0 <= consumed <= len(data)
        if consumed == 0:
            assert frame is None and skip is None
            assert len(data) < ff68.MAX_L + 7  # only a possible frame prefix may wait
        else:
            assert (frame is None) != (skip is None)
        stream = FrameStream(scan)
        stream.feed(data)
        stream.flush()
        assert stream.pending == 0


@given(st.lists(st.tuples(noise, frames), max_size=8), noise, st.data())
def test_frames_in_noise_are_all_recovered(
    parts: list[tuple[bytes, Ff68Frame]], tail: bytes, data: st.DataObject
) -> None:
    wire = b"".join(n + ff68.encode_frame(f) for n, f in parts) + tail
    # deliver in random chunks to exercise split frames
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    stream = FrameStream(ff68.scan)
    got = []
    prev = 0
    for cut in [*cuts, len(wire)]:
        got += stream.feed(wire[prev:cut])
        prev = cut
    got += stream.flush()
    assert got == [f for _, f in parts]
    assert stream.counters.errors == 0


@given(frames)
def test_encode_decode_roundtrip(frame: Ff68Frame) -> None:
    wire = ff68.encode_frame(frame)
    assert ff68.decode(wire) == (len(wire), frame)
