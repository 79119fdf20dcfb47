"""The region tree's rules (regions/rules.py), a region's figures from its halls'
(regions/figures.py), who may act over a region (auth.permissions) and who decides an
appeal (reviews.states.check_decider). Pure."""

from __future__ import annotations

import pytest

from services.engine.auth.permissions import (
    Capability,
    Principal,
    authorise,
    authorise_region,
)
from services.engine.core.errors import Forbidden, ValidationFailed
from services.engine.regions import figures, rules
from services.engine.regions.rules import Level, RegionRefused
from services.engine.reviews.states import AppealDecidedAbove, check_decider
from services.engine.statistics.reports import Balance, Volume, WindowLine


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [
        ("330000", Level.PROVINCE, None),
        ("330100", Level.CITY, "330000"),
        ("330106", Level.DISTRICT, "330100"),
        ("330106001", Level.TOWN, "330106"),
        ("330106001001", Level.VILLAGE, "330106001"),
        ("110101", Level.DISTRICT, "110100"),
    ],
)
def test_the_code_says_the_level_and_the_parent(
    code: str, level: Level, parent: str | None
) -> None:
    assert rules.level_of(code) is level
    assert rules.implied_parent(code) == parent


@pytest.mark.parametrize("code", ["", "33010", "3301060", "33010600100", "33010a", "３３０１０６"])
def test_a_code_is_6_9_or_12_digits(code: str) -> None:
    with pytest.raises(ValidationFailed):
        rules.check_code(code)


def test_a_child_begins_with_its_parent_and_sits_below_it() -> None:
    rules.check_child("330106", "330100")
    rules.check_child("330106", "330000")  # a district straight below its province
    rules.check_child("441900003", "441900")  # a town straight below a city (东莞)
    rules.check_child("330106001", None)  # a root
    for code, parent in (
        ("330106", "330106"),  # itself
        ("330106001", "330108"),  # another district's code
        ("330100", "330106"),  # a city below a district
        ("330106001", "330106002"),  # a town below a town
    ):
        with pytest.raises(RegionRefused):
            rules.check_child(code, parent)


def test_paths_say_what_is_below() -> None:
    district = rules.path_of("330106", rules.path_of("330100", None))
    assert district == "/330100/330106/"
    town = rules.path_of("330106001", district)
    assert rules.is_below(town, district) and rules.is_below(district, district)
    assert not rules.is_below(district, town)
    assert not rules.is_below("/330100/3301060/", district)  # a prefix of digits is not below
    assert rules.codes_of(town) == ["330100", "330106", "330106001"]


def test_volumes_add_up_per_key() -> None:
    a = {"2026-11": Volume(issued=3, served=2, by_outcome={"done": 2}, by_source={"kiosk": 3})}
    b = {
        "2026-11": Volume(issued=1, no_show=1, by_source={"booking": 1}),
        "2026-12": Volume(issued=5, served=5, by_outcome={"done": 4, "accepted": 1}),
    }
    total = figures.sum_volumes([a, b])
    assert list(total) == ["2026-11", "2026-12"]
    nov = total["2026-11"]
    assert (nov.issued, nov.served, nov.no_show) == (4, 2, 1)
    assert nov.by_source == {"booking": 1, "kiosk": 3} and nov.by_outcome == {"done": 2}
    assert total["2026-12"].by_outcome == {"accepted": 1, "done": 4}
    assert a["2026-11"].issued == 3  # the halls' own figures are left as they were


def _lines(cases: dict[int, int]) -> dict[int, WindowLine]:
    return {
        w: WindowLine(cases=c, handling_seconds=60.0 * c, open_seconds=3600.0)
        for w, c in cases.items()
    }


def test_the_busiest_three_windows_of_a_region_and_those_under_threshold() -> None:
    """The seeds' figures at region scale: three windows of two halls do 77 of 100 cases;
    the windows under their own hall's threshold are listed, fewest first."""
    centre = (_lines({1: 40, 2: 22, 3: 5, 4: 3}), Balance(None, None, None, [3, 4], 10.0))
    town = (_lines({1: 15, 2: 9, 3: 6}), Balance(None, None, None, [3], 8.0))
    found = figures.region_balance({"centre": centre, "town": town})
    assert [(w.hall, w.window, w.cases) for w in found.busiest] == [
        ("centre", 1, 40),
        ("centre", 2, 22),
        ("town", 1, 15),
    ]
    assert found.top3_case_share == pytest.approx(0.77)
    assert found.busiest[0].case_share == pytest.approx(0.40)
    assert [(w.hall, w.window) for w in found.low_volume] == [
        ("centre", 4),
        ("centre", 3),
        ("town", 3),
    ]
    assert found.gini_handling is not None and 0 < found.gini_handling < 1
    empty = figures.region_balance({})
    assert empty.top3_case_share is None and empty.busiest == [] and empty.low_volume == []


def _principal(role: str, hall_id: int | None = None, **scope: object) -> Principal:
    return Principal("user", 7, role, hall_id, "someone", **scope)  # type: ignore[arg-type]


def test_a_region_admin_reads_the_halls_below_its_region_only() -> None:
    admin = _principal("region_admin", region="330106001", halls=frozenset({1, 2}))
    authorise(admin, Capability.READ, 1)
    authorise(admin, Capability.REPORT, 2)
    authorise(admin, Capability.DECIDE, 2)
    for capability in (Capability.ISSUE, Capability.WINDOW, Capability.CANCEL, Capability.MANAGE):
        with pytest.raises(Forbidden):
            authorise(admin, capability, 1)
    with pytest.raises(Forbidden, match="not below"):
        authorise(admin, Capability.READ, 3)
    # A region admin read without a scope sees nothing.
    with pytest.raises(Forbidden):
        authorise(_principal("region_admin"), Capability.READ, 1)
    # Over regions: its own and those below, not its parent nor a neighbour.
    authorise_region(admin, Capability.REPORT, "/330100/330106/330106001/")
    authorise_region(admin, Capability.REPORT, "/330100/330106/330106001/330106001001/")
    for path in ("/330100/330106/", "/330100/330106/330106002/"):
        with pytest.raises(Forbidden):
            authorise_region(admin, Capability.REPORT, path)
    with pytest.raises(Forbidden):
        authorise_region(admin, Capability.MANAGE, "/330100/330106/330106001/")


def test_hall_accounts_and_devices_get_no_region() -> None:
    for principal in (
        _principal("manager", hall_id=1),
        _principal("admin", hall_id=1),
        Principal("device", 3, "kiosk", 1, "kiosk-1"),
    ):
        with pytest.raises(Forbidden):
            authorise_region(principal, Capability.REPORT, "/330106/")
    city = _principal("admin")
    authorise_region(city, Capability.MANAGE, "/330106/")
    authorise(city, Capability.WINDOW, 99)


def test_who_decides_an_appeal() -> None:
    check_decider("manager", region_admin_above=False)
    check_decider("region_admin", region_admin_above=True)
    check_decider("admin", region_admin_above=True)
    check_decider("admin", region_admin_above=False)
    with pytest.raises(AppealDecidedAbove):
        check_decider("manager", region_admin_above=True)
    for role, above in (("staff", False), ("staff", True), ("region_admin", False)):
        with pytest.raises(Forbidden):
            check_decider(role, region_admin_above=above)
