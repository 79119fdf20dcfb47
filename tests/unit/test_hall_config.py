"""The hall file: what it accepts, and clear refusals for what it must not."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from services.engine.balancing.interleave import InterleaveRatio
from services.engine.core.errors import HallConfigInvalid
from services.engine.setup.hall_file import hall_file_from_dict, parse_hall_file
from services.engine.windows.states import WindowKind

ROOT = Path(__file__).resolve().parents[2]

BASE: dict[str, Any] = {
    "hall": {
        "code": "qingshan",
        "name": "青山街道便民服务中心",
        "hours": {"weekly": {"mon-fri": ["08:30-12:00", "14:00-17:30"]}},
    },
    "services": [
        {"code": "social", "name": "社保医保", "prefix": "A"},
        {"code": "civil", "name": "民政救助", "prefix": "B"},
    ],
    "windows": [
        {"number": 1, "services": {"social": 1.0, "civil": 2.0}},
        {"number": 2, "kind": "green", "services": ["social", "civil"]},
    ],
}


def variant(**changes: Any) -> dict[str, Any]:
    """A deep copy of BASE with dotted paths replaced, e.g. ``{"hall.timezone": "X"}``."""
    raw = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        node: Any = raw
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return raw


def refused(raw: dict[str, Any]) -> str:
    with pytest.raises(HallConfigInvalid) as caught:
        hall_file_from_dict(raw)
    assert caught.value.code == "hall_config_invalid" and caught.value.status == 422
    return caught.value.detail


def test_base_is_accepted_with_defaults() -> None:
    spec = hall_file_from_dict(copy.deepcopy(BASE))
    assert spec.hall.timezone == "Asia/Shanghai"
    assert spec.hall.rules.max_recalls == 3 and spec.hall.rules.no_show == "void"
    assert spec.hall.rules.kiosk_classes == ("normal",)  # green, priority: the guide desk
    assert spec.hall.rules.ratio() == InterleaveRatio(2, 1)
    assert spec.services[0].width == 3 and spec.services[0].daily_quota is None
    assert spec.windows[0].weights() == {"social": 1.0, "civil": 2.0}
    assert spec.windows[1].weights() == {"social": 1.0, "civil": 1.0}
    assert spec.windows[1].kind is WindowKind.GREEN


@pytest.mark.parametrize("path", sorted((ROOT / "deploy" / "halls").glob("*.toml")))
def test_shipped_hall_files_parse(path: Path) -> None:
    spec = parse_hall_file(path.read_text(encoding="utf-8"))
    assert spec.services and spec.windows


def test_test_hall_file_parses() -> None:
    spec = parse_hall_file((ROOT / "tests" / "data" / "test-hall.toml").read_text("utf-8"))
    assert [s.prefix for s in spec.services] == ["A", "B", "N"]


def test_duplicate_prefixes_refused() -> None:
    detail = refused(variant(services__1__prefix="A"))
    assert "prefixes must be unique" in detail


def test_duplicate_service_codes_refused() -> None:
    raw = variant(services__1={"code": "social", "name": "另一个", "prefix": "B"})
    assert "service codes must be unique" in refused(raw)


def test_duplicate_window_numbers_refused() -> None:
    raw = variant(windows__1={"number": 1, "services": ["civil"]})
    assert "window numbers must be unique" in refused(raw)


def test_unknown_service_on_a_window_refused() -> None:
    detail = refused(variant(windows__0__services={"social": 1.0, "passport": 1.0}))
    assert "window 1 serves unknown service 'passport'" in detail


def test_unknown_service_in_a_window_list_refused() -> None:
    detail = refused(variant(windows__1__services=["social", "tax"]))
    assert "window 2 serves unknown service 'tax'" in detail


@pytest.mark.parametrize("weight", [0, -1.5])
def test_non_positive_weight_refused(weight: float) -> None:
    detail = refused(variant(windows__0__services={"social": weight}))
    assert "weight for 'social' must be > 0" in detail


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Asia/Beijing", "", "/etc/passwd", "UTC+8"])
def test_bad_timezone_refused(zone: str) -> None:
    detail = refused(variant(hall__timezone=zone))
    assert "hall.timezone" in detail and "unknown timezone" in detail


@pytest.mark.parametrize(
    ("ratio", "message"),
    [
        ("2-1", "interleave must look like '2:1'"),
        ("two:one", "interleave must look like '2:1'"),
        ("2:1:1", "interleave must look like '2:1'"),
        ("0:1", "at least 1"),
        ("3:0", "at least 1"),
    ],
)
def test_bad_interleave_refused(ratio: str, message: str) -> None:
    detail = refused(variant(hall__rules={"interleave": ratio}))
    assert "hall.rules.interleave" in detail and message in detail


@pytest.mark.parametrize(("ratio", "parsed"), [("3:1", (3, 1)), (" 1 : 2 ", (1, 2))])
def test_good_interleave(ratio: str, parsed: tuple[int, int]) -> None:
    spec = hall_file_from_dict(variant(hall__rules={"interleave": ratio}))
    assert spec.hall.rules.ratio() == InterleaveRatio(*parsed)


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"weekly": {"mon": ["08:00-12:00", "11:00-13:00"]}}, "overlap"),
        ({"weekly": {"mon-fri": ["08:00-12:00"], "wed": ["11:30-13:00"]}}, "overlap"),
        ({"weekly": {"mon": ["08:00-25:00"]}}, "impossible time"),
        ({"weekly": {"mon": ["17:00-08:00"]}}, "start < end"),
        ({"weekly": {"mon": ["morning"]}}, "HH:MM-HH:MM"),
        ({"weekly": {"fri-mon": ["08:00-12:00"]}}, "runs backwards"),
        ({"weekly": {"someday": ["08:00-12:00"]}}, "not a weekday"),
        ({"working_dates": {"2026-10-11": "funday"}}, "not a weekday"),
        ({"closed_dates": ["2026-02-30"]}, "closed_dates"),
    ],
)
def test_bad_hours_refused(hours: dict[str, Any], message: str) -> None:
    detail = refused(variant(hall__hours=hours))
    assert "hall.hours" in detail and message in detail


def test_bad_service_hours_refused() -> None:
    detail = refused(variant(services__1__hours={"mon": ["12:00-11:00"]}))
    assert "services.1" in detail and "start < end" in detail


def test_overlapping_period_quotas_refused() -> None:
    quotas = [{"hours": "08:30-12:00", "limit": 70}, {"hours": "11:00-14:00", "limit": 10}]
    detail = refused(variant(services__0__period_quotas=quotas))
    assert "period quotas" in detail and "overlap" in detail


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("prefix", "a", "services.0.prefix"),
        ("prefix", "ABC", "services.0.prefix"),
        ("prefix", "1", "services.0.prefix"),
        ("width", 0, "services.0.width"),
        ("width", 7, "services.0.width"),
        ("daily_quota", -1, "services.0.daily_quota"),
        ("code", "Social Security", "services.0.code"),
        ("colour", "red", "services.0.colour"),  # unknown keys are typos, not ignored
    ],
)
def test_bad_service_fields_refused(field: str, value: Any, where: str) -> None:
    detail = refused(variant(**{f"services__0__{field}": value}))
    assert where in detail


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"hall__code": "Qing Shan"}, "hall.code"),
        ({"hall__code": ""}, "hall.code"),
        ({"hall__rules": {"max_recalls": 11}}, "hall.rules.max_recalls"),
        ({"hall__rules": {"no_show": "ignore"}}, "hall.rules.no_show"),
        ({"hall__rules": {"requeue_places": 0}}, "hall.rules.requeue_places"),
        # Appointments come from a booking's check-in, never from a kiosk's 取号.
        ({"hall__rules": {"kiosk_classes": ["appointment"]}}, "hall.rules.kiosk_classes"),
        ({"hall__rules": {"kiosk_classes": "green"}}, "hall.rules.kiosk_classes"),
    ],
)
def test_bad_hall_fields_refused(changes: dict[str, Any], where: str) -> None:
    assert where in refused(variant(**changes))


def test_bad_window_kind_refused() -> None:
    assert "windows.0.kind" in refused(variant(windows__0__kind="vip"))


def test_not_toml_refused() -> None:
    with pytest.raises(HallConfigInvalid, match="not valid TOML"):
        parse_hall_file("[hall\ncode = 'x'")


def test_missing_hall_refused() -> None:
    with pytest.raises(HallConfigInvalid, match="hall"):
        parse_hall_file("[[services]]\ncode = 'a'\nname = 'A'\nprefix = 'A'\n")


def test_whole_file_problems_read_cleanly() -> None:
    # A refusal about the file as a whole names no empty location.
    detail = refused(variant(services__1__prefix="A"))
    assert detail.startswith("hall file refused: ") and ": :" not in detail
    assert detail == (
        "hall file refused: ticket prefixes must be unique in a hall (A001 must mean one service)"
    )
    assert "Value error" not in refused(variant(hall__timezone="Mars/Olympus"))
