"""``jiaohao hall export`` as a process, on SQLite and PostgreSQL: apply a file, export it,
apply the export (nothing changes); a change on the settings page is in the next export;
``hall apply`` of the old file sets it back and says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.engine.halls.service import get_hall
from services.engine.setup import edit
from services.engine.setup.hall_file import parse_hall_file
from tests.api.test_cli import cli  # noqa: F401  (the fixture: a brand-new database of each kind)
from tests.helpers.cli import Cli
from tests.helpers.db import snapshot
from tests.helpers.halls import CHANGED_HALL, TEST_HALL


def body(text: str) -> str:
    """The export without its header (which says when it was written)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()


def test_export_round_trip(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    cli.ok("migrate")
    cli.ok("hall", "apply", str(TEST_HALL))
    # A season later (a service retired, a window too): the export must still apply clean.
    cli.ok("hall", "apply", str(CHANGED_HALL))
    exported = tmp_path / "testhall.toml"
    assert cli.ok("hall", "export", "testhall", "--out", str(exported)) == (
        f"hall testhall: written to {exported}\n"
    )
    text = exported.read_text("utf-8")
    assert text.startswith("# Hall testhall: exported by `jiaohao hall export`")
    spec = parse_hall_file(text)
    assert {s.code: s.active for s in spec.services}["night"] is False  # retired, kept
    before = cli.query(snapshot)
    assert cli.ok("hall", "apply", str(exported)) == "hall testhall: nothing to change\n"
    assert cli.query(snapshot) == before
    assert body(cli.ok("hall", "export", "testhall")) == body(text)  # stdout: the same file

    # A change on the settings page (the flow its API calls) is in the next export.
    async def change(session: Any) -> None:
        hall = await get_hall(session=session, code="testhall")
        await edit.change_service(
            session=session,
            hall=hall,
            code="estate",
            values={"daily_quota": 7},
            actor="user:1:boss",
        )
        hall = await get_hall(session=session, code="testhall")
        await edit.change_hall_settings(
            session=session, hall=hall, section="hours",
            values={"closed_dates": ["2026-12-25"]}, actor="user:1:boss",
        )  # fmt: skip

    cli.query(change)
    edited = cli.ok("hall", "export", "testhall")
    spec = parse_hall_file(edited)
    assert {s.code: s.daily_quota for s in spec.services}["estate"] == 7
    assert (
        "closed_dates = [\n    2026-12-25,\n]" in edited or "closed_dates = [2026-12-25]" in edited
    )
    assert body(edited) != body(text)

    # The old file wins and names what it overwrites; the edited export brings it back.
    lines = cli.ok("hall", "apply", str(exported)).splitlines()
    quota = [line for line in lines if "service estate: daily_quota 7 ->" in line]
    assert quota and "overwrites the settings page's change by user:1:boss at" in quota[0], lines
    hours = [line for line in lines if line.startswith("hall testhall: hall: hours")]
    assert hours and "closed_dates by user:1:boss" in hours[0], lines
    again = tmp_path / "edited.toml"
    again.write_text(edited, "utf-8")
    applied = cli.ok("hall", "apply", str(again))
    assert "service estate: daily_quota" in applied and "overwrites" not in applied
    assert cli.ok("hall", "apply", str(again)) == "hall testhall: nothing to change\n"

    # An unknown hall: refused, nothing written.
    missing = cli("hall", "export", "nohall", "--out", str(tmp_path / "x.toml"))
    assert missing.returncode == 2 and "nohall" in missing.stderr
    assert not (tmp_path / "x.toml").exists()
