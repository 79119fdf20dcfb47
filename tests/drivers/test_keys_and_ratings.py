"""What keypad and evaluation pad keys mean: pure state machine and mappings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.protocols.keypad import Key, KeypadAction, KeypadSequencer, keys_for_action
from drivers.protocols.rating import (
    HidRatingDecoder,
    Satisfaction,
    key_for_level,
    level_for_key,
)


@pytest.mark.parametrize(
    ("code", "action"),
    [
        (0x0C, KeypadAction.CALL_NEXT),
        (0x0D, KeypadAction.RECALL),
        (0x0B, KeypadAction.FINISH),
        (0x12, KeypadAction.PAUSE),
        (0x13, KeypadAction.TRANSFER),
    ],
)
def test_single_keys(code: int, action: KeypadAction) -> None:
    assert KeypadSequencer().feed(code, now=0.0) is action


@pytest.mark.parametrize(
    ("digit", "action"),
    [(0x06, KeypadAction.NO_SHOW), (0x00, KeypadAction.HOLD), (0x03, KeypadAction.CALL_BACK)],
)
def test_digit_then_confirm(digit: int, action: KeypadAction) -> None:
    seq = KeypadSequencer()
    assert seq.feed(digit, now=0.0) is None
    assert seq.pending_digit == digit
    assert seq.feed(0x0F, now=1.0) is action
    assert seq.pending_digit is None
    assert seq.feed(0x0F, now=1.5) is None  # confirm alone does nothing


def test_sequences_that_mean_nothing() -> None:
    seq = KeypadSequencer(digit_timeout=5.0)
    assert seq.feed(0x06, 0.0) is None
    assert seq.feed(0x0F, 6.0) is None  # too late
    assert seq.feed(0x07, 10.0) is None
    assert seq.feed(0x0F, 10.1) is None  # 7 + confirm means nothing
    assert seq.feed(0x06, 11.0) is None
    assert seq.feed(0x0C, 11.1) is KeypadAction.CALL_NEXT  # another key cancels the digit
    assert seq.feed(0x0F, 11.2) is None
    assert seq.feed(0x06, 12.0) is None
    assert seq.feed(0x55, 12.1) is None  # unknown key cancels too
    assert seq.feed(0x0F, 12.2) is None
    assert seq.feed(0x06, 13.0) is None and seq.feed(0x00, 13.1) is None
    assert seq.feed(0x0F, 13.2) is KeypadAction.HOLD  # the last digit counts


@pytest.mark.parametrize("action", list(KeypadAction))
def test_keys_for_action_roundtrip(action: KeypadAction) -> None:
    seq = KeypadSequencer()
    results = [seq.feed(code, 0.0) for code in keys_for_action(action)]
    assert results[-1] is action and all(r is None for r in results[:-1])


@given(st.lists(st.integers(0, 255), max_size=50))
def test_sequencer_only_yields_actions(codes: list[int]) -> None:
    seq = KeypadSequencer()
    for i, code in enumerate(codes):
        result = seq.feed(code, float(i))
        assert result is None or isinstance(result, KeypadAction)
        if code == Key.CALL_NEXT:
            assert result is KeypadAction.CALL_NEXT


def test_five_key_levels() -> None:
    assert [level_for_key(k, 5) for k in range(1, 6)] == [5, 4, 3, 2, 1]
    assert level_for_key(0, 5) is None and level_for_key(6, 5) is None
    assert Satisfaction(5).label == "非常满意" and Satisfaction(1).label == "非常不满意"
    assert Satisfaction(3).label == "基本满意"


def test_four_key_legacy_levels() -> None:
    assert [level_for_key(k, 4) for k in range(1, 5)] == [5, 4, 3, 2]
    assert level_for_key(5, 4) is None
    with pytest.raises(ValueError):
        key_for_level(1, 4)  # a 4-key pad cannot say 非常不满意
    assert key_for_level(2, 4) == 4
    with pytest.raises(ValueError):
        level_for_key(1, 3)


def test_hid_keyboard_pad() -> None:
    dec = HidRatingDecoder(mode="keyboard", keys=5)
    press_1 = bytes([0, 0, 0x1E, 0, 0, 0, 0, 0])
    release = bytes(8)
    assert dec.feed(press_1) is Satisfaction.VERY_SATISFIED
    assert dec.feed(press_1) is None  # held / repeated report
    assert dec.feed(release) is None
    assert (
        dec.feed(bytes([0, 0, 0x5D, 0, 0, 0, 0, 0])) is Satisfaction.VERY_DISSATISFIED
    )  # keypad 5
    assert dec.feed(bytes([0, 0, 0x5D, 0x1F, 0, 0, 0, 0])) is Satisfaction.SATISFIED  # 2 added
    assert dec.feed(bytes([0, 0, 0x04, 0, 0, 0, 0, 0])) is None  # letter A
    assert dec.feed(b"\x00") is None


def test_hid_vendor_pad() -> None:
    dec = HidRatingDecoder(mode="vendor", keys=4, byte_index=1)
    assert dec.feed(b"\x01\x03") is Satisfaction.BASICALLY_SATISFIED
    assert dec.feed(b"\x01\x03") is None
    assert dec.feed(b"\x01\x00") is None
    assert dec.feed(b"\x01\x05") is None  # no 5th key on a 4-key pad
    assert dec.feed(b"\x01") is None
    with pytest.raises(ValueError):
        HidRatingDecoder(mode="joystick")


@given(st.lists(st.binary(max_size=10), max_size=20))
def test_hid_decoder_fuzz(reports: list[bytes]) -> None:
    dec = HidRatingDecoder()
    for report in reports:
        level = dec.feed(report)
        assert level is None or 1 <= level <= 5
