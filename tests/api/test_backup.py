"""``jiaohao backup`` of a running engine's database, ``jiaohao restore`` into a new one:
every table's rows the same; a restore into another schema revision refused."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from services.engine.migrate import upgrade
from tests.helpers.api import act, issue
from tests.helpers.cli import Cli
from tests.helpers.db import new_postgres_database, outside_loop, snapshot
from tests.helpers.halls import Hall


@pytest.fixture
def new_database(database_url: str, tmp_path: Path) -> Iterator[Cli]:
    """An empty database of the same kind as the test's, to restore into."""
    if database_url.startswith("sqlite"):
        path = tmp_path / "restored" / "jiaohao.db"
        yield Cli(f"sqlite+aiosqlite:///{path}", tmp_path, path)
        return
    with new_postgres_database("jiaohao_restore") as url:
        yield Cli(url, tmp_path, None)


async def test_backup_of_a_running_engine_restores(
    app, client: httpx.AsyncClient, hall: Hall, database_url: str, new_database: Cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    for service in ("business", "business", "estate"):
        await issue(client, hall, service)
    await act(client, hall, 1, "open")
    await act(client, hall, 1, "call-next")
    source = Cli(database_url, tmp_path, None)
    folder = tmp_path / "backups"

    # While the engine serves: a backup, with a kiosk issuing meanwhile.
    made, _ = await asyncio.gather(
        asyncio.to_thread(source.ok, "backup", "--to", str(folder)), issue(client, hall)
    )
    files = sorted(folder.iterdir())
    assert len(files) == 1 and str(files[0]) in made
    assert files[0].suffix == (".sqlite" if database_url.startswith("sqlite") else ".pgdump")

    restored = await asyncio.to_thread(new_database.ok, "restore", "--from", str(files[0]))
    assert "restored" in restored

    # Every table's rows, as in the backup: the live database, minus what came after it.
    async with app.state.sessionmaker() as session:
        live = await snapshot(session)
    copy = new_database.query(snapshot)
    assert copy.keys() == live.keys()
    differing = [t for t in live if live[t] != copy[t]]
    # The ticket issued while backing up is either in the backup or not, with its rows.
    assert set(differing) <= {"tickets", "ticket_events", "ticket_counters", "hall_events", "halls"}
    assert len(copy["tickets"]) in (3, 4) and len(live["tickets"]) == 4
    assert all(row in live["tickets"] for row in copy["tickets"])

    # A second backup after the engine is quiet: the restore is exactly the database.
    await asyncio.to_thread(source.ok, "backup", "--to", str(folder), "--keep", "1")
    (latest,) = sorted(folder.iterdir())  # --keep 1 pruned the first
    refused = await asyncio.to_thread(new_database, "restore", "--from", str(latest))
    assert refused.returncode == 1 and "--replace" in refused.stderr
    await asyncio.to_thread(new_database.ok, "restore", "--from", str(latest), "--replace")
    assert new_database.query(snapshot) == live


async def test_restore_into_another_revision_is_refused(
    app, client: httpx.AsyncClient, hall: Hall, database_url: str, new_database: Cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    await issue(client, hall)
    folder = tmp_path / "backups"
    await asyncio.to_thread(Cli(database_url, tmp_path, None).ok, "backup", "--to", str(folder))
    (made,) = folder.iterdir()
    outside_loop(upgrade, new_database.url, "0008")  # an older schema than the backup's
    refused = await asyncio.to_thread(new_database, "restore", "--from", str(made))
    assert refused.returncode == 1
    assert "the database's schema is at 0008" in refused.stderr
    assert "jiaohao migrate" in refused.stderr
    outside_loop(upgrade, new_database.url)
    await asyncio.to_thread(new_database.ok, "restore", "--from", str(made))


async def test_a_backup_from_a_newer_jiaohao_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    """A schema revision this jiaohao does not know: install the version that made it."""
    source = Cli(sqlite_url, tmp_path, None)
    folder = tmp_path / "backups"
    await asyncio.to_thread(source.ok, "backup", "--to", str(folder))
    (made,) = folder.iterdir()
    with closing(sqlite3.connect(made)) as db, db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    target = tmp_path / "new" / "jiaohao.db"
    refused = await asyncio.to_thread(
        Cli(f"sqlite+aiosqlite:///{target}", tmp_path, target), "restore", "--from", str(made)
    )
    assert refused.returncode == 1
    assert "newer than this jiaohao knows" in refused.stderr
    assert "install the jiaohao version that made the backup" in refused.stderr
    assert not target.exists() or target.stat().st_size == 0
