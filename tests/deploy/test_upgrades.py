"""Every migration says whether `jiaohao migrate` may run while engines serve
(docs/deployment.md, "Upgrades"): a line starting "Safe online" or "Needs a stop"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

MIGRATIONS = sorted((ROOT / "migrations" / "versions").glob("*.py"))
SAYS = re.compile(r"^(# )?(Safe online|Needs a stop)\b", re.MULTILINE)


def test_there_are_migrations() -> None:
    assert len(MIGRATIONS) >= 8


@pytest.mark.parametrize("path", MIGRATIONS, ids=lambda p: p.stem)
def test_each_migration_says_whether_it_is_safe_online(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert SAYS.search(text), (
        f"{path.name}: say in a line of its own whether it is 'Safe online' (old engines "
        "keep working on the new schema while it runs) or 'Needs a stop' (and why)"
    )
