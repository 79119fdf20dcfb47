"""The real ``jiaohao`` command, run as a process on a fresh SQLite file and PostgreSQL database."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from services.engine.auth.models import Device, User
from services.engine.auth.security import verify_password
from services.engine.halls.models import Hall
from services.engine.windows.models import Window
from tests.helpers.app import app_for, serving
from tests.helpers.cli import Cli
from tests.helpers.db import new_postgres_database, outside_loop, snapshot
from tests.helpers.halls import CHANGED_HALL, TEST_HALL

TOKEN_LINE = re.compile(r"^jhd_[A-Za-z0-9_-]{40,}$", re.MULTILINE)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cli]:
    """A brand-new, unmigrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "var" / "jiaohao.db"  # the folder does not exist yet
        yield Cli(f"sqlite+aiosqlite:///{path}", tmp_path, path)
        return
    with new_postgres_database("jiaohao_cli") as url:
        yield Cli(url, tmp_path, None)


async def _through_the_api(url: str, hall: str, token: str, username: str, password: str) -> None:
    """The printed device token and the added user's password work against the engine."""
    async with serving(app_for(url)) as client:
        queues = await client.get(
            f"/api/v1/halls/{hall}/queues", headers={"Authorization": f"Bearer {token}"}
        )
        assert queues.status_code == 200, queues.text
        login = await client.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
        assert login.status_code == 200, login.text
        wrong = await client.post(
            "/api/v1/auth/token", data={"username": username, "password": password + "x"}
        )
        assert wrong.status_code == 401


DEMO_USER = re.compile(
    r"^\s*(manager|staff|region)\s+user\s+(\S+) / (\S+)(?: \(\S+\))?$", re.MULTILINE
)
DEMO_DEVICE = re.compile(r"^\s*(kiosk|gateway|display)\s+device\s+(\S+): (jhd_\S+)$", re.MULTILINE)


def test_cli_from_an_empty_database(cli: Cli, tmp_path: Path) -> None:
    """migrate, demo-setup twice, hall apply (created, unchanged, refused, changed),
    user add and device add, one after the other as an operator would.

    Each run is a process of its own (~1-2 s), so the refusals that never reach
    the database differently are checked on SQLite only.
    """
    sqlite = cli.sqlite_file is not None

    # migrate: from nothing to the current schema.
    assert "database is at heads" in cli.ok("migrate")
    assert cli.query(lambda s: s.execute(text("SELECT COUNT(*) FROM halls"))).scalar_one() == 0
    if sqlite:
        assert "database is at heads" in cli.ok("migrate")  # again: nothing to do

    # demo-setup on an empty database prints credentials; a second run does not.
    first = cli.ok("demo-setup")
    assert "Credentials" in first
    users = DEMO_USER.findall(first)
    devices = DEMO_DEVICE.findall(first)
    assert sorted((role, name) for role, name, _ in users) == [
        ("manager", "demo-manager"),
        ("region", "demo-district"),
        ("staff", "demo-staff"),
    ]
    assert sorted(kind for kind, _, _ in devices) == ["display", "gateway", "kiosk"]
    second = cli.ok("demo-setup")
    assert "skipped" in second and "jhd_" not in second
    stored = cli.stored_text()
    for _, _, secret in users + devices:
        assert secret not in second
        assert secret not in stored  # passwords hashed, tokens hashed

    async def counts(session: Any) -> tuple[list[str], int, int]:
        halls = [h.code for h in (await session.execute(select(Hall))).scalars()]
        n_users = len((await session.execute(select(User.id))).all())
        n_devices = len((await session.execute(select(Device.id))).all())
        return halls, n_users, n_devices

    assert cli.query(counts) == (["demo"], 3, 3)  # the second run added nothing
    demo_password = next(p for role, _, p in users if role == "manager")
    demo_kiosk = next(t for kind, _, t in devices if kind == "kiosk")
    outside_loop(
        asyncio.run, _through_the_api(cli.url, "demo", demo_kiosk, "demo-manager", demo_password)
    )

    # hall apply: created, then nothing to change and every row identical.
    out = cli.ok("hall", "apply", str(TEST_HALL))
    assert out.splitlines()[0] == "hall testhall: created"
    before = cli.query(snapshot)
    assert cli.ok("hall", "apply", str(TEST_HALL)) == "hall testhall: nothing to change\n"
    assert cli.query(snapshot) == before

    if sqlite:
        # A file with mistakes is refused whole, with the reason, and changes nothing.
        bad = tmp_path / "bad.toml"
        bad.write_text(
            TEST_HALL.read_text("utf-8").replace('prefix = "B"', 'prefix = "A"'), "utf-8"
        )
        refused = cli("hall", "apply", str(bad))
        assert refused.returncode == 2 and refused.stdout == ""
        assert "ticket prefixes must be unique" in refused.stderr
        assert cli.query(snapshot) == before

    # A changed file updates in place and says what changed.
    lines = cli.ok("hall", "apply", str(CHANGED_HALL)).splitlines()
    assert "hall testhall: service business: name '企业开办' -> '企业设立登记'" in lines
    assert "hall testhall: window 4: active True -> False" in lines
    assert "hall testhall: window 1: weight 1.0 -> 2.0" in lines

    async def window_4(session: Any) -> Window:
        hall = select(Hall.id).where(Hall.code == "testhall").scalar_subquery()
        query = select(Window).where(Window.hall_id == hall, Window.number == 4)
        return (await session.execute(query)).scalar_one()

    assert cli.query(window_4).active is False  # retired, still there

    # user add: the password comes from stdin; only its hash is stored.
    password = "correct horse battery staple"
    out = cli.ok(
        "user", "add", "--hall", "testhall", "--role", "manager", "--username", "cli-manager",
        "--password-stdin", stdin=password + "\n",
    )  # fmt: skip
    assert out == "user cli-manager (manager) added\n"

    async def user(session: Any) -> User:
        query = select(User).where(User.username == "cli-manager")
        return (await session.execute(query)).scalar_one()

    account = cli.query(user)
    assert account.role == "manager" and account.active and account.hall_id is not None
    assert account.password_hash.startswith("$argon2")
    assert verify_password(account.password_hash, password)
    assert password not in cli.stored_text()

    if sqlite:
        short = cli(
            "user", "add", "--hall", "testhall", "--role", "staff", "--username", "shorty",
            "--password-stdin", stdin="short\n",
        )  # fmt: skip
        assert short.returncode == 2 and "at least 8 characters" in short.stderr
        taken = cli(
            "user", "add", "--hall", "testhall", "--role", "staff", "--username", "cli-manager",
            "--password-stdin", stdin="another long password\n",
        )  # fmt: skip
        assert taken.returncode == 2 and "exists" in taken.stderr
        assert cli.query(counts)[1] == 4  # demo's three and cli-manager

    # device add: the token is printed once; the database holds its SHA-256 only.
    out = cli.ok("device", "add", "--hall", "testhall", "--kind", "kiosk", "--name", "kiosk-1")
    tokens = TOKEN_LINE.findall(out)
    assert len(tokens) == 1
    token = tokens[0]

    async def device(session: Any) -> Device:
        query = select(Device).where(Device.name == "kiosk-1")
        return (await session.execute(query)).scalar_one()

    kiosk = cli.query(device)
    assert (kiosk.kind, kiosk.active) == ("kiosk", True)
    assert kiosk.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in cli.stored_text()

    outside_loop(asyncio.run, _through_the_api(cli.url, "testhall", token, "cli-manager", password))


def test_advise(cli: Cli) -> None:
    """`jiaohao advise` prints, per service, what the advice rests on and the windows each
    hour needs; bad dates and unknown halls are refused with exit 2."""
    cli.ok("migrate")
    cli.ok("hall", "apply", str(TEST_HALL))
    out = cli.ok("advise", "--hall", "testhall", "--from", "2026-11-02", "--to", "2026-11-13")
    assert out.startswith("testhall 2026-11-02..2026-11-13: 10 weekdays, 0 tickets;")
    assert "企业开办 (business): 0 tickets, handling 8.0 min (hall file, too few cases)" in out
    assert "own windows today 3" in out  # windows 1-3 serve business as their own
    bad = cli("advise", "--hall", "testhall", "--from", "yesterday", "--to", "2026-11-13")
    assert bad.returncode == 2 and "give dates as" in bad.stderr
    unknown = cli("advise", "--hall", "nohall", "--from", "2026-11-02", "--to", "2026-11-02")
    assert unknown.returncode == 2 and "nohall" in unknown.stderr


async def _a_day_of_history(url: str) -> None:
    from tests.helpers.hallday import a_small_day
    from tests.helpers.halls import seed_hall

    app = app_for(url)
    async with serving(app) as client:
        await a_small_day(client, await seed_hall(app, client))


def test_advise_checked_by_the_simulator_and_replay(cli: Cli) -> None:
    """`jiaohao advise` adds the comparison with today's windows and the simulator's check
    (how much history it rests on); `jiaohao replay` replays a day with a what-if and
    refuses a bad one with its code."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    cli.ok("migrate")
    outside_loop(asyncio.run, _a_day_of_history(cli.url))
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    day = today.isoformat()
    period = ["--hall", "testhall", "--from", day, "--to", day]
    out = cli.ok("advise", *period, "--seeds", "2", "--weekday", str(today.weekday()))
    assert "Windows per hour, advice (all services) against today's (hall open 00:00-24:00)" in out
    assert "learned from 4 tickets over 1 days" in out
    assert "today's windows: 4 windows, 96.0 window-hours" in out
    assert "the advice's windows:" in out and "企业开办" in out.split("today's windows:")[1]
    quiet = cli.ok("advise", *period, "--no-check")
    assert "Checked by the simulator" not in quiet

    what_if = ["--window", "3:own=business,estate:open=00:00-24:00", "--window", "4:closed"]
    replayed = cli.ok("replay", "--hall", "testhall", "--day", day, *what_if)
    assert replayed.startswith(f"testhall {day}: 3 citizens replayed")
    assert "what happened:" in replayed and "what if (balanced):" in replayed
    assert "  3: own 企业开办, 不动产登记; helps -; open 00:00-24:00" in replayed
    assert "  4: own 不动产登记; helps -; open closed" in replayed
    bad = cli("replay", "--hall", "testhall", "--day", day, "--window", "1:own=passport")
    assert bad.returncode == 2 and "replay_unknown_service" in bad.stderr
    worse = cli("replay", "--hall", "testhall", "--day", day, "--window", "one")
    assert worse.returncode == 2 and "window's number" in worse.stderr
