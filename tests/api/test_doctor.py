"""``jiaohao doctor`` on a healthy installation (exit 0) and on broken ones (exit 1,
saying what is wrong): a wrong public URL, a default secret, a missing trigger."""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from services.engine.migrate import upgrade
from tests.helpers.cli import JIAOHAO, engine_env
from tests.helpers.db import new_postgres_database, outside_loop
from tests.helpers.halls import seeded
from tests.helpers.net import free_port
from tests.helpers.processes import EngineProcess, start


def doctor(url: str, cwd: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = engine_env(url)
    env.update(
        {
            "JIAOHAO_ENVIRONMENT": "production",
            "JIAOHAO_SECRET_KEY": secrets.token_urlsafe(32),
            "JIAOHAO_PII_KEY": secrets.token_urlsafe(32),
        }
    )
    env.update({f"JIAOHAO_{k.upper()}": v for k, v in settings.items()})
    return subprocess.run(
        [str(JIAOHAO), "doctor", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.fixture
def serial_port() -> Iterator[str]:
    """A serial port that exists and this user may use (a pseudo-terminal)."""
    controller, device = os.openpty()
    try:
        yield os.ttyname(device)
    finally:
        os.close(controller)
        os.close(device)


def gateway_file(folder: Path, port: str) -> Path:
    path = folder / "gateway.toml"
    path.write_text(
        f'[[buses]]\nname = "hall"\nport = "{port}"\n'
        '  [[buses.devices]]\n  kind = "keypad"\n  address = 1\n  window = 1\n',
        encoding="utf-8",
    )
    return path


def lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return done.stdout.splitlines()


@pytest.mark.postgres
async def test_healthy_and_broken_postgres_install(tmp_path: Path, serial_port: str) -> None:
    with new_postgres_database("jiaohao_doctor") as url:
        outside_loop(upgrade, url)
        await seeded(url)
        engine = EngineProcess(url, tmp_path, "doctor")
        try:
            await start(engine)
            config = gateway_file(tmp_path, serial_port)
            healthy = doctor(
                url,
                tmp_path,
                "--gateway-config",
                str(config),
                "--backup-dir",
                str(tmp_path),
                public_base_url=engine.base_url,
            )
            assert healthy.returncode == 0, healthy.stdout + healthy.stderr
            said = lines(healthy)
            assert all(line.startswith("ok ") for line in said[:-1]), said
            for name in ("database", "event listener", "access-cache triggers", "clock"):
                assert any(line.startswith(f"ok    {name}:") for line in said), (name, said)
            assert any("public base URL" in line and "answers" in line for line in said)
            assert any(serial_port in line and "ready" in line for line in said)
            assert said[-1] == "all checks passed"

            # Broken: nothing at the public URL, the test's published secret, a trigger
            # dropped, a serial port that is not there.
            nowhere = f"http://127.0.0.1:{free_port()}"
            name = url.rsplit("/", 1)[1]
            await _on(name, "DROP TRIGGER devices_access_update ON devices")
            broken = doctor(
                url,
                tmp_path,
                "--gateway-config",
                str(gateway_file(tmp_path, "/dev/ttyJIAOHAO-NONE")),
                public_base_url=nowhere,
                secret_key="test-secret-key-not-for-production",
            )
        finally:
            engine.stop()
    assert broken.returncode == 1, broken.stdout
    failed = [line for line in lines(broken) if line.startswith("FAIL")]
    assert any("public base URL" in line and "does not answer" in line for line in failed)
    assert any("JIAOHAO_SECRET_KEY is a default" in line for line in failed)
    assert any("devices_access_update" in line and "jiaohao migrate" in line for line in failed)
    assert any("/dev/ttyJIAOHAO-NONE does not exist" in line for line in failed)
    assert len(failed) == 4, broken.stdout
    assert lines(broken)[-1] == "4 check(s) failed"


@pytest.mark.postgres
async def test_no_engine_and_not_migrated(tmp_path: Path) -> None:
    with new_postgres_database("jiaohao_doctor") as url:
        done = doctor(url, tmp_path)
    assert done.returncode == 1
    assert "FAIL  database: reachable, not migrated: run `jiaohao migrate`" in lines(done)
    assert any(line.startswith("FAIL  event listener: no engine") for line in lines(done))


async def test_sqlite_station(tmp_path: Path) -> None:
    path = tmp_path / "var" / "jiaohao.db"
    url = f"sqlite+aiosqlite:///{path}"
    outside_loop(upgrade, url)
    await seeded(url)
    done = doctor(url, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    said = lines(done)
    assert "ok    event listener: not used (SQLite: one process)" in said
    assert any(line.startswith("ok    disk: SQLite database") for line in said)
    assert any(line.startswith("warn  public base URL") for line in said)  # not a failure
    # A database left at an older schema (an upgrade of the code without `migrate`).
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE alembic_version SET version_num = '0008'")
    stale = doctor(url, tmp_path)
    assert stale.returncode == 1
    assert any(
        line.startswith("FAIL  database: reachable, schema at 0008") and "jiaohao migrate" in line
        for line in lines(stale)
    ), stale.stdout


async def _on(database: str, statement: str) -> None:
    import asyncpg

    from tests.helpers.db import PG_ADMIN_URL, asyncpg_dsn

    connection = await asyncpg.connect(asyncpg_dsn(PG_ADMIN_URL).rsplit("/", 1)[0] + "/" + database)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
