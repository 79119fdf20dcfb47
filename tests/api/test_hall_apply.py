"""Applying a hall file (through code) on both databases: idempotent, updates in place."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.halls.models import Hall, Service
from services.engine.setup.apply import ApplyReport, apply_hall_file
from services.engine.setup.hall_file import parse_hall_file
from services.engine.tickets.models import Ticket
from services.engine.windows.models import Window, WindowService
from tests.helpers.api import API
from tests.helpers.app import access_change
from tests.helpers.db import snapshot
from tests.helpers.halls import CHANGED_HALL, TEST_HALL, seed_hall

ORIGINAL = TEST_HALL.read_text(encoding="utf-8")
# The same hall a season later (what changed is said in the file).
CHANGED = CHANGED_HALL.read_text(encoding="utf-8")


async def apply_text(session: AsyncSession, text: str) -> ApplyReport:
    return await apply_hall_file(session=session, spec=parse_hall_file(text))


async def test_apply_creates_the_hall(app) -> None:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        report = await apply_text(session, ORIGINAL)
        assert report.created_hall and report.changed and report.hall_code == "testhall"
        hall = (await session.execute(select(Hall))).scalar_one()
        assert (hall.code, hall.name, hall.timezone) == ("testhall", "测试大厅", "Asia/Shanghai")
        services = (await session.execute(select(Service).order_by(Service.sort_order))).scalars()
        assert [(s.code, s.prefix, s.daily_quota, s.active) for s in services] == [
            ("business", "A", 500, True),
            ("estate", "B", 3, True),
            ("night", "N", None, True),
        ]
        windows = (await session.execute(select(Window).order_by(Window.number))).scalars().all()
        assert [(w.number, w.name, w.kind, w.state) for w in windows] == [
            (1, "1号窗口", "general", "closed"),
            (2, "2号窗口", "general", "closed"),
            (3, "3号窗口", "general", "closed"),
            (4, "4号窗口", "dedicated", "closed"),
        ]
        rows = await session.execute(
            select(Window.number, Service.code, WindowService.weight)
            .join(Window, Window.id == WindowService.window_id)
            .join(Service, Service.id == WindowService.service_id)
        )
        assert sorted(tuple(r) for r in rows) == [
            (1, "business", 1.0),
            (1, "estate", 1.0),
            (2, "business", 1.0),
            (2, "estate", 1.0),
            (3, "business", 1.0),
            (4, "estate", 1.0),
        ]


async def test_applying_twice_changes_nothing(app) -> None:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        await apply_text(session, ORIGINAL)
    async with app.state.sessionmaker() as session:
        before = await snapshot(session)
    async with app.state.sessionmaker() as session:
        again = await apply_text(session, ORIGINAL)
    assert not again.changed and again.changes == [] and not again.created_hall
    async with app.state.sessionmaker() as session:
        after = await snapshot(session)
    # Not a row touched, not even updated_at, and no hall.updated event.
    assert after == before
    assert before["halls"] and before["window_services"]


async def test_changed_file_updates_in_place(app, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    hall = await seed_hall(app, client)
    issued = []
    for service in ("business", "business", "estate", "night"):
        response = await client.post(
            f"{API}/{hall.code}/tickets", json={"service": service}, headers=hall.h("kiosk")
        )
        if service != "night":  # never open (no hours): refused, nothing written
            assert response.status_code == 201, response.text
            issued.append(response.json())
    await client.post(f"{API}/{hall.code}/windows/4/open", headers=hall.h("manager"))
    async with app.state.sessionmaker() as session:
        services_before = {s.code: s.id for s in (await session.execute(select(Service))).scalars()}
        windows_before = {w.number: w.id for w in (await session.execute(select(Window))).scalars()}
        tickets_before = [
            (t.id, t.number, t.service_id, t.status)
            for t in (await session.execute(select(Ticket).order_by(Ticket.id))).scalars()
        ]

    async with access_change(app), app.state.sessionmaker() as session:
        report = await apply_text(session, CHANGED)
    assert report.changed and not report.created_hall
    changes = "\n".join(report.changes)
    assert "hall: name '测试大厅' -> '测试大厅（新址）'" in changes
    assert "service business: name '企业开办' -> '企业设立登记'" in changes
    assert "service night: active True -> False" in changes
    assert "service tax: created" in changes
    assert "window 1: weight 1.0 -> 2.0" in changes
    assert "window 4: active True -> False" in changes
    assert "window 5: created" in changes
    assert (
        f"window #{windows_before[2]}: no longer serves service #{services_before['estate']}"
        in (changes)
    )

    async with app.state.sessionmaker() as session:
        halls = (await session.execute(select(Hall))).scalars().all()
        assert len(halls) == 1 and halls[0].name == "测试大厅（新址）"
        assert halls[0].rules["interleave"] == "3:1" and halls[0].rules["max_recalls"] == 2
        services = {s.code: s for s in (await session.execute(select(Service))).scalars()}
        # Updated in place: the same rows, so tickets keep pointing at them.
        assert {c: services[c].id for c in services_before} == services_before
        assert services["business"].name == "企业设立登记" and services["business"].active
        assert not services["night"].active  # retired, not deleted
        assert services["tax"].active and services["tax"].prefix == "T"
        windows = {w.number: w for w in (await session.execute(select(Window))).scalars()}
        assert {n: windows[n].id for n in windows_before} == windows_before
        assert not windows[4].active  # retired, not deleted
        assert windows[5].active and windows[5].kind == "green"
        links = {
            (ws.window_id, ws.service_id): ws.weight
            for ws in (await session.execute(select(WindowService))).scalars()
        }
        ids = services_before
        assert links[(windows[1].id, ids["business"])] == 2.0
        assert links[(windows[1].id, ids["estate"])] == 1.0
        assert (windows[2].id, ids["estate"]) not in links
        # A retired window keeps its links as they were (its history stays readable).
        assert links[(windows[4].id, ids["estate"])] == 1.0
        tickets_after = [
            (t.id, t.number, t.service_id, t.status)
            for t in (await session.execute(select(Ticket).order_by(Ticket.id))).scalars()
        ]
    assert tickets_after == tickets_before
    assert [t[1] for t in tickets_after] == ["A001", "A002", "B001"]

    # The hall goes on: numbering continues, old tickets are called under the new name,
    # the retired window and service are gone from the API.
    next_ticket = await client.post(
        f"{API}/{hall.code}/tickets", json={"service": "business"}, headers=hall.h("kiosk")
    )
    assert next_ticket.json()["number"] == "A003"
    assert next_ticket.json()["service_name"] == "企业设立登记"
    await client.post(f"{API}/{hall.code}/windows/1/open", headers=hall.h("manager"))
    called = await client.post(f"{API}/{hall.code}/windows/1/call-next", headers=hall.h("manager"))
    assert called.json()["ticket"]["id"] == issued[0]["id"]
    gone = await client.post(f"{API}/{hall.code}/windows/4/open", headers=hall.h("manager"))
    assert gone.status_code == 404
    night = await client.post(
        f"{API}/{hall.code}/tickets", json={"service": "night"}, headers=hall.h("kiosk")
    )
    assert night.status_code == 409 and night.json()["code"] == "service_unavailable"
    queues = (await client.get(f"{API}/{hall.code}/queues", headers=hall.h("display"))).json()
    assert [q["service"] for q in queues["queues"]] == ["business", "estate", "tax"]

    # Applying the changed file again: nothing to change.
    async with app.state.sessionmaker() as session:
        assert not (await apply_text(session, CHANGED)).changed


async def test_reapplying_the_old_file_brings_retired_parts_back(app) -> None:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        await apply_text(session, ORIGINAL)
        await apply_text(session, CHANGED)
    async with app.state.sessionmaker() as session:
        report = await apply_text(session, ORIGINAL)
    changes = "\n".join(report.changes)
    assert "window 4: active False -> True" in changes
    assert "service night: active False -> True" in changes
    assert "service tax: active True -> False" in changes
    assert "window 5: active True -> False" in changes
    async with app.state.sessionmaker() as session:
        windows = (await session.execute(select(Window))).scalars().all()
        services = (await session.execute(select(Service))).scalars().all()
    assert len(windows) == 5 and len(services) == 4  # nothing was ever deleted
    assert sorted(w.number for w in windows if w.active) == [1, 2, 3, 4]


async def test_two_halls_are_independent(app) -> None:  # type: ignore[no-untyped-def]
    other = ORIGINAL.replace('code = "testhall"', 'code = "otherhall"')
    async with app.state.sessionmaker() as session:
        await apply_text(session, ORIGINAL)
        assert (await apply_text(session, other)).created_hall
        await apply_text(session, CHANGED)  # changes testhall only
    async with app.state.sessionmaker() as session:
        halls = {h.code: h for h in (await session.execute(select(Hall))).scalars()}
        assert halls["otherhall"].name == "测试大厅"
        services = (
            (await session.execute(select(Service).where(Service.hall_id == halls["otherhall"].id)))
            .scalars()
            .all()
        )
    assert sorted((s.code, s.name, s.active) for s in services) == [
        ("business", "企业开办", True),
        ("estate", "不动产登记", True),
        ("night", "夜间服务", True),
    ]
