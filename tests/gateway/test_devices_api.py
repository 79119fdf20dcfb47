"""Device health through the API on both databases: reports, events, silence, access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from services.engine.auth.models import Device
from services.engine.events.models import HallEvent
from tests.helpers.api import API
from tests.helpers.halls import Hall, seed_hall

SEEN = "2026-03-02T09:00:00+08:00"


def devices(*entries: tuple[str, str, int | None, str, str | None]) -> dict[str, Any]:
    return {
        "devices": [
            {"key": k, "kind": kind, "window": w, "status": s, "reason": r, "last_seen": SEEN}
            for k, kind, w, s, r in entries
        ]
    }


BOARD = ("led:1", "led", 1, "online", None)
KEYPAD = ("keypad:1", "keypad", 1, "online", None)
BUS = ("bus:hall", "bus", None, "online", None)


async def put(client: httpx.AsyncClient, hall: Hall, who: str, body: Any) -> httpx.Response:
    return await client.put(f"{API}/{hall.code}/devices/health", json=body, headers=hall.h(who))


async def overview(client: httpx.AsyncClient, hall: Hall, who: str = "display") -> dict[str, Any]:
    response = await client.get(f"{API}/{hall.code}/devices", headers=hall.h(who))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def reporter(body: dict[str, Any], name: str) -> dict[str, Any]:
    found = [r for r in body["reporters"] if r["name"] == name]
    assert len(found) == 1, body
    return found[0]


async def health_events(app: Any) -> list[dict[str, Any]]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            select(HallEvent.payload)
            .where(HallEvent.type == "device.health")
            .order_by(HallEvent.seq)
        )
        return [dict(p) for p in rows.scalars()]


async def test_report_list_and_events(client: httpx.AsyncClient, hall: Hall, app: Any) -> None:
    first = await put(client, hall, "gateway", devices(BOARD, KEYPAD, BUS))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "reporter": "testhall-gateway",
        "accepted": 3,
        "changed": ["led:1", "keypad:1", "bus:hall"],
    }
    events = await health_events(app)
    assert [(e["key"], e["status"]) for e in events] == [
        ("reporter", "online"),
        ("led:1", "online"),
        ("keypad:1", "online"),
        ("bus:hall", "online"),
    ]
    assert events[0]["reason"] == "first report" and events[0]["reporter_kind"] == "gateway"
    assert events[1]["window"] == 1 and events[1]["reporter"] == "testhall-gateway"

    body = await overview(client, hall)
    gateway = reporter(body, "testhall-gateway")
    assert gateway["status"] == "online" and gateway["kind"] == "gateway"
    assert gateway["last_contact"] is not None
    by_key = {d["key"]: d for d in gateway["devices"]}
    assert set(by_key) == {"led:1", "keypad:1", "bus:hall"}
    assert by_key["led:1"]["status"] == "online" and by_key["led:1"]["window"] == 1
    assert datetime.fromisoformat(by_key["led:1"]["last_seen"]) == datetime.fromisoformat(SEEN)
    # The kiosk has not reported yet: it is listed, offline, with nothing behind it.
    kiosk = reporter(body, "testhall-kiosk")
    assert kiosk["status"] == "offline" and kiosk["reason"] == "never reported"
    assert kiosk["devices"] == [] and kiosk["last_contact"] is None
    # Displays do not report: not listed.
    assert {r["kind"] for r in body["reporters"]} == {"kiosk", "gateway"}

    # The same report again changes nothing and says nothing on the bus.
    again = await put(client, hall, "gateway", devices(BOARD, KEYPAD, BUS))
    assert again.json()["changed"] == []
    assert len(await health_events(app)) == 4

    # The keypad goes offline and the board is taken out of the configuration.
    unplugged = ("keypad:1", "keypad", 1, "offline", "no answer after 3 tries")
    changed = await put(client, hall, "gateway", devices(unplugged, BUS))
    assert sorted(changed.json()["changed"]) == ["keypad:1", "led:1"]
    events = await health_events(app)
    assert [(e["key"], e["status"], e["removed"]) for e in events[4:]] == [
        ("keypad:1", "offline", False),
        ("led:1", "online", True),
    ]
    assert events[4]["reason"] == "no answer after 3 tries"
    gateway = reporter(await overview(client, hall), "testhall-gateway")
    by_key = {d["key"]: d for d in gateway["devices"]}
    assert set(by_key) == {"keypad:1", "bus:hall"}
    assert by_key["keypad:1"]["status"] == "offline"
    assert by_key["keypad:1"]["reason"] == "no answer after 3 tries"

    # The kiosk reports its printer under a key of its own.
    printer = ("printer", "printer", None, "error", "paper out")
    assert (await put(client, hall, "kiosk", devices(printer))).status_code == 200
    kiosk = reporter(await overview(client, hall), "testhall-kiosk")
    assert kiosk["status"] == "online"
    assert [(d["key"], d["status"], d["reason"]) for d in kiosk["devices"]] == [
        ("printer", "error", "paper out")
    ]


async def test_silent_reporter_is_offline(client: httpx.AsyncClient, hall: Hall, app: Any) -> None:
    assert (await put(client, hall, "gateway", devices(BOARD))).status_code == 200
    silent_after = app.state.settings.device_silent_seconds
    long_ago = datetime.now(UTC) - timedelta(seconds=silent_after + 5)
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(Device).where(Device.name == "testhall-gateway").values(last_seen_at=long_ago)
        )
        await session.commit()
    body = await overview(client, hall)
    assert body["silent_after_seconds"] == silent_after
    gateway = reporter(body, "testhall-gateway")
    assert gateway["status"] == "offline"
    assert gateway["reason"] == f"no report for more than {silent_after:g} s"
    board = gateway["devices"][0]
    assert board["status"] == "offline" and board["reported_status"] == "online"
    assert board["reason"].startswith("testhall-gateway: no report")

    # Heard from again: online, and the bus says so.
    assert (await put(client, hall, "gateway", devices(BOARD))).json()["changed"] == []
    gateway = reporter(await overview(client, hall), "testhall-gateway")
    assert gateway["status"] == "online" and gateway["devices"][0]["status"] == "online"
    events = await health_events(app)
    assert [(e["key"], e["reason"]) for e in events if e["key"] == "reporter"] == [
        ("reporter", "first report"),
        ("reporter", "reporting again"),
    ]


async def test_who_may_report_and_read(client: httpx.AsyncClient, hall: Hall, app: Any) -> None:
    for who in ("admin", "manager", "staff", "display"):
        refused = await put(client, hall, who, devices(BOARD))
        assert refused.status_code == 403, (who, refused.text)
        assert refused.json()["code"] == "forbidden"
    anonymous = await client.put(f"{API}/{hall.code}/devices/health", json=devices(BOARD))
    assert anonymous.status_code == 401
    other = await seed_hall(app, client, other_code="otherhall")
    cross = await client.put(
        f"{API}/{hall.code}/devices/health", json=devices(BOARD), headers=other.h("gateway")
    )
    assert cross.status_code == 403
    assert (await client.get(f"{API}/{hall.code}/devices")).status_code == 401
    for who in ("admin", "manager", "staff", "display", "kiosk", "gateway"):
        assert (
            await client.get(f"{API}/{hall.code}/devices", headers=hall.h(who))
        ).status_code == 200
    # Nothing was stored by the refused reports.
    assert reporter(await overview(client, hall), "testhall-gateway")["devices"] == []
    assert await health_events(app) == []


async def test_bad_reports_are_refused_whole(
    client: httpx.AsyncClient, hall: Hall, app: Any
) -> None:
    twice = await put(client, hall, "gateway", devices(BOARD, BOARD))
    assert twice.status_code == 422 and twice.json()["code"] == "validation_error"
    assert "led:1" in twice.json()["detail"]
    bad_bodies: list[Any] = [
        devices(("led:1", "led", 1, "flaky", None)),
        devices(("led:1", "lamp", 1, "online", None)),
        devices(("led 1", "led", 1, "online", None)),
        devices(("led:1", "led", 0, "online", None)),
        {
            "devices": [
                {
                    "key": "led:1",
                    "kind": "led",
                    "status": "online",
                    "last_seen": "2026-03-02T09:00:00",
                }
            ]
        },
        {"devices": [{"key": "led:1", "kind": "led", "status": "online", "colour": "red"}]},
        {"devices": [{"key": "x" * 65, "kind": "led", "status": "online"}]},
        {"devices": [{"key": "led:1", "kind": "led", "status": "online", "reason": "r" * 201}]},
        {},
    ]
    for body in bad_bodies:
        response = await put(client, hall, "gateway", body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert reporter(await overview(client, hall), "testhall-gateway")["devices"] == []
    assert await health_events(app) == []
    # An empty list is a reporter with no devices: fine.
    assert (await put(client, hall, "gateway", {"devices": []})).status_code == 200
