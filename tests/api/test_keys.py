"""The engine's keys are its own: random, made once, private; never a public default.

A public default key (the former ``dev-only-change-me``) let anyone forge a manager's
token for a demo install and recover a phone number from its hash in seconds. Now
``jiaohao keys`` (run by ``make run``) writes random keys into ``var/`` with mode 0600
and every command reads them from there; without keys the engine does not start.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from services.engine.app import create_app
from services.engine.auth.security import create_access_token
from services.engine.config import Settings, ensure_keys
from services.engine.core.pii import keyed_hash
from services.engine.migrate import upgrade
from services.engine.tickets.models import Ticket
from tests.helpers.api import API, issue
from tests.helpers.app import serving
from tests.helpers.cli import JIAOHAO
from tests.helpers.db import outside_loop
from tests.helpers.halls import seed_hall

FORMER_PUBLIC_SECRET = "dev-only-change-me"
FORMER_PUBLIC_PII_KEY = "dev-only-pii-key-change-me"


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed command as `make run` runs it: no key, no setting in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIAOHAO_")}
    return subprocess.run(
        [str(JIAOHAO), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_keys_are_written_once_random_and_private(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    assert ensure_keys(first) == {"secret_key": True, "pii_key": True}
    ensure_keys(second)
    keys = {name: (first / name).read_text().strip() for name in ("secret_key", "pii_key")}
    assert all(_private(first / name) for name in keys)
    assert all(len(key) >= 40 for key in keys.values())
    assert keys["secret_key"] != keys["pii_key"]
    assert keys["secret_key"] != (second / "secret_key").read_text().strip()
    # Made once: a second run keeps them (and makes a loosened file private again).
    (first / "pii_key").chmod(0o644)
    assert ensure_keys(first) == {"secret_key": False, "pii_key": False}
    assert {name: (first / name).read_text().strip() for name in keys} == keys
    assert _private(first / "pii_key")


def test_the_command_refuses_to_run_without_keys_and_uses_those_it_wrote(tmp_path: Path) -> None:
    refused = _run(tmp_path, "migrate")
    assert refused.returncode == 2
    assert "JIAOHAO_SECRET_KEY" in refused.stderr and "jiaohao keys" in refused.stderr
    assert "Traceback" not in refused.stderr
    written = _run(tmp_path, "keys")
    assert written.returncode == 0, written.stderr
    assert "written to var/secret_key" in written.stdout
    assert _private(tmp_path / "var" / "secret_key") and _private(tmp_path / "var" / "pii_key")
    migrated = _run(tmp_path, "migrate")  # the default SQLite file in var/, the keys in var/
    assert migrated.returncode == 0, migrated.stderr
    again = _run(tmp_path, "keys")
    assert "kept in var/secret_key" in again.stdout


# Forging with the short former default is the point (PyJWT warns about its length).
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_an_engine_on_written_keys_refuses_the_former_public_ones(tmp_path: Path) -> None:
    key_dir = tmp_path / "var"
    ensure_keys(key_dir)
    url = f"sqlite+aiosqlite:///{tmp_path / 'jiaohao.db'}"
    outside_loop(upgrade, url)
    settings = Settings(_env_file=None, database_url=url, key_dir=str(key_dir))  # type: ignore[call-arg]
    assert settings.secret_key == (key_dir / "secret_key").read_text().strip()
    assert settings.pii_key == (key_dir / "pii_key").read_text().strip()
    app = create_app(settings)
    async with serving(app) as client:
        hall = await seed_hall(app, client)
        manager = await client.get(f"{API}/{hall.code}/queues", headers=hall.h("manager"))
        assert manager.status_code == 200, manager.text
        # A manager's token signed with the former public default: refused.
        forged = create_access_token(
            secret=FORMER_PUBLIC_SECRET, user_id=1, role="manager", hall_id=1, minutes=5
        )
        answer = await client.get(
            f"{API}/{hall.code}/queues", headers={"Authorization": f"Bearer {forged}"}
        )
        assert answer.status_code == 401, answer.text
        # A phone number's hash is keyed with the written key, not the public one.
        ticket = await issue(client, hall, phone="13800138000")
        async with app.state.sessionmaker() as session:
            stored = await session.scalar(
                select(Ticket.phone_hash).where(Ticket.id == ticket["id"])
            )
    assert stored == keyed_hash(settings.pii_key, "phone", "13800138000")
    assert stored != keyed_hash(FORMER_PUBLIC_PII_KEY, "phone", "13800138000")
