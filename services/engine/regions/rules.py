"""The region tree (行政区划) and who sees what in it. Pure rules.

A region is named by its administrative division code (行政区划代码, GB/T 2260 for the
first six digits, the statistics bureau's town and village codes after them):

- 6 digits: a province (``330000``), a city (``330100``) or a district/county (``330106``);
- 9 digits: a town or street (乡镇/街道, ``330106001``);
- 12 digits: a village or community (村/社区, ``330106001001``).

The level follows from the code; so does the parent, when none is given: a village's
parent is its first 9 digits, a town's its first 6, a district's its city (``3301`` +
``00``), a city's its province. A child's code always begins with its parent's code
without the parent's trailing ``00`` pairs, and a child sits below its parent's level.

A region's ``path`` lists the codes from the root down to it, ``/330100/330106/``: the
regions below one are those whose path begins with its path.
"""

from __future__ import annotations

import re
from enum import IntEnum

from services.engine.core.errors import Refusal, ValidationFailed


class Level(IntEnum):
    """Higher is wider. The value orders the levels; the name is stored."""

    VILLAGE = 1  # 村/社区
    TOWN = 2  # 乡镇/街道
    DISTRICT = 3  # 区/县
    CITY = 4  # 市
    PROVINCE = 5  # 省

    @property
    def word(self) -> str:
        return LEVEL_WORDS[self]


LEVEL_WORDS = {
    Level.VILLAGE: "村/社区",
    Level.TOWN: "乡镇/街道",
    Level.DISTRICT: "区/县",
    Level.CITY: "市",
    Level.PROVINCE: "省",
}

_CODE = re.compile(r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$")
MAX_NAME = 100


class RegionRefused(Refusal):
    code = "region_refused"
    title = "The region tree does not allow this"


class RegionInUse(Refusal):
    code = "region_in_use"
    title = "The region still has regions, halls or accounts below it"


def check_code(code: str) -> str:
    if not _CODE.match(code):
        raise ValidationFailed(
            f"a region code is 6, 9 or 12 digits (行政区划代码), not {code[:20]!r}", field="code"
        )
    return code


def level_of(code: str) -> Level:
    check_code(code)
    if len(code) == 12:
        return Level.VILLAGE
    if len(code) == 9:
        return Level.TOWN
    if code.endswith("0000"):
        return Level.PROVINCE
    if code.endswith("00"):
        return Level.CITY
    return Level.DISTRICT


def stem(code: str) -> str:
    """The part of a code its children begin with: ``330100`` -> ``3301``."""
    if len(code) > 6:
        return code
    trimmed = code
    while trimmed.endswith("00") and len(trimmed) > 2:
        trimmed = trimmed[:-2]
    return trimmed


def implied_parent(code: str) -> str | None:
    """The parent a code names by itself (None for a province)."""
    level = level_of(code)
    if level is Level.VILLAGE:
        return code[:9]
    if level is Level.TOWN:
        return code[:6]
    if level is Level.DISTRICT:
        return code[:4] + "00"
    if level is Level.CITY:
        return code[:2] + "0000"
    return None


def check_child(code: str, parent: str | None) -> None:
    """Refuse a region placed under a parent it cannot belong to."""
    if parent is None:
        return
    if parent == code:
        raise RegionRefused("a region cannot be its own parent")
    if level_of(parent) <= level_of(code):
        raise RegionRefused(
            f"{code} ({level_of(code).word}) cannot sit below {parent} ({level_of(parent).word})"
        )
    if not code.startswith(stem(parent)):
        raise RegionRefused(f"{code} does not begin with its parent's code {stem(parent)}")


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ValidationFailed(f"a region's name has 1 to {MAX_NAME} characters", field="name")
    return name


def path_of(code: str, parent_path: str | None) -> str:
    return f"{parent_path or '/'}{code}/"


def is_below(path: str, region_path: str) -> bool:
    """Whether the region at ``path`` is ``region_path``'s region or below it."""
    return path.startswith(region_path)


def codes_of(path: str) -> list[str]:
    """The codes of a path, root first."""
    return [p for p in path.split("/") if p]
