"""The edge's checks of numbers and text (services/engine/core/inputs.py)."""

from __future__ import annotations

from services.engine.core.inputs import ascii_digits, nul_at, nul_in_pairs


def test_ascii_digits_takes_only_ascii_digits_of_bounded_length() -> None:
    assert ascii_digits("0", 3) == 0 and ascii_digits("123", 3) == 123
    for text in ("", "1234", "²", "٣", "1²", "-1", "+1", " 1", "1.0", "1_000"):
        assert ascii_digits(text, 3) is None, text


def test_nul_at_finds_the_place_of_a_nul_at_any_depth() -> None:
    assert nul_at({"a": ["x", {"b": "y\x00"}]}, ("body",)) == ("body", "a", 1, "b")
    assert nul_at({"a\x00": 1}) == ("a\x00",)
    assert nul_at({"a": ["x", 1, None, 2.5, {"b": "y"}]}) is None
    deep: object = "\x00"
    for _ in range(3000):  # deeper than recursion goes (the limit is 1000)
        deep = [deep]
    found = nul_at(deep)
    assert found is not None and len(found) == 3000


def test_nul_in_pairs_names_the_pair() -> None:
    assert nul_in_pairs([("a", "x"), ("b", "y\x00")]) == "b"
    assert nul_in_pairs([("a\x00", "x")]) == "a\x00"
    assert nul_in_pairs([("a", "x"), ("f", object())]) is None
