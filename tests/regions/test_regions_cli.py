"""``jiaohao hall apply`` with a region, and ``jiaohao user add --role region_admin
--region CODE``, run as processes on a fresh SQLite file and PostgreSQL database; the
region admin then logs in and reads the hall's figures, and only them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from services.engine.auth.models import User
from services.engine.regions.models import Region
from tests.helpers.app import app_for, serving
from tests.helpers.cli import Cli
from tests.helpers.db import new_postgres_database, outside_loop
from tests.helpers.halls import TEST_HALL

REGIONS = """
[[region]]
code = "330106"
name = "西湖区"

[[region]]
code = "330106001"
name = "北山街道"
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cli]:
    if request.param == "sqlite":
        path = tmp_path / "var" / "jiaohao.db"
        yield Cli(f"sqlite+aiosqlite:///{path}", tmp_path, path)
        return
    with new_postgres_database("jiaohao_regions_cli") as url:
        yield Cli(url, tmp_path, None)


async def _reads_its_hall(url: str, password: str) -> None:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    async with serving(app_for(url)) as client:
        login = await client.post(
            "/api/v1/auth/token", data={"username": "xihu-admin", "password": password}
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        me = (await client.get("/api/v1/auth/me", headers=headers)).json()
        assert me["role"] == "region_admin" and me["hall_id"] is None
        assert me["region"] == "330106"
        got = await client.get(
            "/api/v1/halls/testhall/stats/volumes",
            params={"from": today, "to": today},
            headers=headers,
        )
        assert got.status_code == 200, got.text
        opened = await client.post("/api/v1/halls/testhall/windows/1/open", headers=headers)
        assert opened.status_code == 403


def test_a_region_admin_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    cli.ok("migrate")
    hall_file = tmp_path / "hall.toml"
    text = TEST_HALL.read_text(encoding="utf-8").replace(
        "[hall]\n", '[hall]\nregion = "330106001"\n', 1
    )
    hall_file.write_text(text + REGIONS, encoding="utf-8")
    out = cli.ok("hall", "apply", str(hall_file))
    assert "region 330106001 北山街道: /330106/330106001/" in out, out

    async def regions(session: Any) -> list[str]:
        return list((await session.execute(select(Region.path).order_by(Region.path))).scalars())

    assert cli.query(regions) == ["/330106/", "/330106/330106001/"]

    password = "correct horse battery staple"
    missing = cli(
        "user", "add", "--role", "region_admin", "--username", "x", "--password-stdin",
        stdin=password + "\n",
    )  # fmt: skip
    assert missing.returncode == 2 and "region" in missing.stderr
    unknown = cli(
        "user", "add", "--role", "region_admin", "--region", "330199", "--username", "x",
        "--password-stdin", stdin=password + "\n",
    )  # fmt: skip
    assert unknown.returncode == 2 and "no region 330199" in unknown.stderr
    out = cli.ok(
        "user", "add", "--role", "region_admin", "--region", "330106", "--username",
        "xihu-admin", "--password-stdin", stdin=password + "\n",
    )  # fmt: skip
    assert out == "user xihu-admin (region_admin) added\n"

    async def account(session: Any) -> tuple[int | None, int | None]:
        user = (
            await session.execute(select(User).where(User.username == "xihu-admin"))
        ).scalar_one()
        return user.hall_id, user.region_id

    hall_id, region_id = cli.query(account)
    assert hall_id is None and region_id is not None
    outside_loop(asyncio.run, _reads_its_hall(cli.url, password))
