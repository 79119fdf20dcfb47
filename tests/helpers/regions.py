"""A district with two towns, a hall in each, and region admins (regions/, #19)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.helpers.halls import Hall, password_hash, seed_hall

DISTRICT = "330106"  # 西湖区
TOWN_A = "330106001"  # a street of it
TOWN_B = "330106002"  # its neighbour
CITY = "330100"


async def put_region(app: Any, code: str, name: str, parent: str | None = None) -> None:
    from services.engine.regions import service

    async with app.state.sessionmaker() as session:
        await service.put_region(
            session=session,
            spec=service.RegionSpec(code, name, parent, parent is not None),
            actor="test",
        )


async def place(app: Any, hall_code: str, region_code: str) -> None:
    from services.engine.regions import service

    async with app.state.sessionmaker() as session:
        await service.place_hall(
            session=session, hall_code=hall_code, region_code=region_code, actor="test"
        )


async def region_admin(app: Any, username: str, region_code: str) -> dict[str, str]:
    """A region admin of the region, and its bearer header (its token minted directly)."""
    from services.engine.auth.models import User
    from services.engine.auth.security import create_access_token
    from services.engine.regions import repository

    async with app.state.sessionmaker() as session:
        region = await repository.by_code(session, region_code)
        assert region is not None
        user = User(
            hall_id=None,
            region_id=region.id,
            username=username,
            password_hash=password_hash(),
            role="region_admin",
            active=True,
        )
        session.add(user)
        await session.commit()
        token = create_access_token(
            secret=app.state.settings.secret_key,
            user_id=user.id,
            role="region_admin",
            hall_id=None,
            minutes=60,
        )
    return {"Authorization": f"Bearer {token}"}


async def _rename(app: Any, names: dict[str, str]) -> None:
    """The two copies of the test hall, told apart by their names."""
    from sqlalchemy import update

    from services.engine.halls.models import Hall as HallRow
    from tests.helpers.app import access_change

    async with access_change(app), app.state.sessionmaker() as session:
        for code, name in names.items():
            await session.execute(update(HallRow).where(HallRow.code == code).values(name=name))
        await session.commit()


@dataclass
class District:
    """西湖区 with two streets: hall ``a`` in TOWN_A, hall ``b`` in TOWN_B."""

    a: Hall
    b: Hall
    headers: dict[str, dict[str, str]]  # district_admin, town_a_admin, town_b_admin

    def h(self, who: str) -> dict[str, str]:
        return self.headers[who]


async def a_district(app: Any, client: httpx.AsyncClient, a: Hall | None = None) -> District:
    a = a or await seed_hall(app, client)
    b = await seed_hall(app, client, other_code="otherhall")
    await put_region(app, CITY, "杭州市")
    await put_region(app, DISTRICT, "西湖区")
    await put_region(app, TOWN_A, "北山街道")
    await put_region(app, TOWN_B, "西溪街道")
    await place(app, a.code, TOWN_A)
    await place(app, b.code, TOWN_B)
    await _rename(app, {a.code: "北山街道便民服务中心", b.code: "西溪街道便民服务中心"})
    headers = {
        "district_admin": await region_admin(app, "xihu-admin", DISTRICT),
        "town_a_admin": await region_admin(app, "beishan-admin", TOWN_A),
        "town_b_admin": await region_admin(app, "xixi-admin", TOWN_B),
    }
    return District(a, b, headers)
