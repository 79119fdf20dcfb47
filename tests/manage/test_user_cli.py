"""``jiaohao user list|disable|enable|reset-password``: the operator's parity with the
accounts page, on both databases, through the installed command."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.app import app_for, serving
from tests.helpers.cli import Cli
from tests.helpers.db import new_postgres_database, outside_loop
from tests.helpers.halls import TEST_HALL

NEW_PASSWORD = re.compile(r"new password \(shown only now\): (\S+)$", re.MULTILINE)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cli]:
    if request.param == "sqlite":
        path = tmp_path / "jiaohao.db"
        yield Cli(f"sqlite+aiosqlite:///{path}", tmp_path, path)
        return
    with new_postgres_database("jiaohao_user_cli") as url:
        yield Cli(url, tmp_path, None)


def _login(url: str, username: str, password: str) -> int:
    async def go() -> int:
        async with serving(app_for(url)) as client:
            response = await client.post(
                "/api/v1/auth/token", data={"username": username, "password": password}
            )
            return response.status_code

    return asyncio.run(go())


def _a_clerk(cli: Cli, username: str) -> None:
    """The test hall, migrated and applied, with a clerk whose password is "first password"."""
    cli.ok("migrate")
    cli.ok("hall", "apply", str(TEST_HALL))
    cli.ok(
        "user",
        "add",
        "--hall",
        "testhall",
        "--role",
        "staff",
        "--username",
        username,
        "--password-stdin",
        stdin="first password\n",
    )


def test_the_operator_lists_disables_enables_and_resets(cli: Cli) -> None:
    _a_clerk(cli, "li.si")
    listed = cli.ok("user", "list", "--hall", "testhall")
    assert re.search(r"^li\.si\tstaff\tactive\tlast login -$", listed, re.MULTILINE), listed
    assert outside_loop(_login, cli.url, "li.si", "first password") == 200
    assert "last login 20" in cli.ok("user", "list")
    assert "user li.si disabled" in cli.ok("user", "disable", "li.si")
    assert "li.si\tstaff\tdisabled" in cli.ok("user", "list")
    assert outside_loop(_login, cli.url, "li.si", "first password") == 401
    cli.ok("user", "enable", "li.si")
    said = cli.ok("user", "reset-password", "li.si")
    (password,) = NEW_PASSWORD.findall(said)
    assert outside_loop(_login, cli.url, "li.si", "first password") == 401
    assert outside_loop(_login, cli.url, "li.si", password) == 200
    missing = cli("user", "disable", "nobody")
    assert missing.returncode == 2 and "no account 'nobody'" in missing.stderr


def _token(url: str, username: str, password: str) -> str:
    async def go() -> str:
        async with serving(app_for(url)) as client:
            response = await client.post(
                "/api/v1/auth/token", data={"username": username, "password": password}
            )
            assert response.status_code == 200, response.text
            token: str = response.json()["access_token"]
            return token

    return asyncio.run(go())


def _me(url: str, token: str) -> int:
    async def go() -> int:
        async with serving(app_for(url)) as client:
            me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            return me.status_code

    return asyncio.run(go())


def test_a_reset_from_the_command_line_cuts_issued_tokens(cli: Cli) -> None:
    _a_clerk(cli, "wang.wu")
    token = outside_loop(_token, cli.url, "wang.wu", "first password")
    assert outside_loop(_me, cli.url, token) == 200
    cli.ok("user", "reset-password", "wang.wu")
    assert outside_loop(_me, cli.url, token) == 401
