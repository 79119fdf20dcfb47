"""Devices of a hall from the manager's pages (设备管理), on both databases: add with the
token shown once, revoke (refused at once, for good), re-issue, rename, which window a
keypad or pad serves; the audit log and the bus; who may do it. And a password reset
cutting the tokens issued before it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.engine.events.models import HallEvent
from tests.bus.asgi_ws import AsgiWebSocket, Closed
from tests.helpers.api import API, assert_problem
from tests.helpers.halls import PASSWORD, Hall

SINCE = {"since": "2000-01-01T00:00:00+00:00"}


def url(hall: Hall, path: str = "") -> str:
    return f"{API}/{hall.code}/devices/admin{path}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def listed(client: httpx.AsyncClient, hall: Hall, who: str = "manager") -> dict[str, Any]:
    response = await client.get(url(hall), headers=hall.h(who))
    assert response.status_code == 200, response.text
    return {d["name"]: d for d in response.json()}


async def add(client: httpx.AsyncClient, hall: Hall, kind: str, name: str) -> dict[str, Any]:
    response = await client.post(
        url(hall), json={"kind": kind, "name": name}, headers=hall.h("manager")
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def issue(client: httpx.AsyncClient, hall: Hall, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        f"{API}/{hall.code}/tickets", json={"service": "business"}, headers=headers
    )


async def audit_actions(client: httpx.AsyncClient, hall: Hall) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/{hall.code}/audit", params=SINCE, headers=hall.h("manager"))
    assert response.status_code == 200, response.text
    return [e for e in response.json() if e["action"].startswith("device.")]


async def bus_events(app: Any, type_: str) -> list[dict[str, Any]]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            select(HallEvent.payload).where(HallEvent.type == type_).order_by(HallEvent.seq)
        )
        return [dict(p) for p in rows.scalars()]


async def test_a_lost_kiosk_is_revoked_at_once_and_for_good(
    client: httpx.AsyncClient, hall: Hall, app: Any
) -> None:
    added = await add(client, hall, "kiosk", "2号取号机")
    token = added["token"]
    assert token.startswith("jhd_") and added["device"]["active"] is True
    device_id = added["device"]["id"]
    # The token works, and is never shown again.
    assert (await issue(client, hall, bearer(token))).status_code == 201
    page = await client.get(url(hall), headers=hall.h("manager"))
    assert token not in page.text and "token" not in page.text
    kiosk = (await listed(client, hall))["2号取号机"]
    assert kiosk["kind"] == "kiosk" and kiosk["created_at"] is not None
    assert kiosk["status"] == "offline" and kiosk["last_contact"] is None  # never reported
    printer = {"key": "printer", "kind": "printer", "status": "error", "reason": "缺纸"}
    report = await client.put(
        f"{API}/{hall.code}/devices/health", json={"devices": [printer]}, headers=bearer(token)
    )
    assert report.status_code == 200, report.text
    kiosk = (await listed(client, hall))["2号取号机"]
    assert kiosk["status"] == "online" and kiosk["last_contact"] is not None
    assert [(h["key"], h["status"], h["reason"]) for h in kiosk["hardware"]] == [
        ("printer", "error", "缺纸")
    ]

    revoked = await client.post(url(hall, f"/{device_id}/revoke"), headers=hall.h("manager"))
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    # Refused at once: the very next request.
    assert_problem(await issue(client, hall, bearer(token)), 401, "unauthorized")
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer(token)), 401, "unauthorized")
    again = await client.post(url(hall, f"/{device_id}/revoke"), headers=hall.h("manager"))
    assert again.status_code == 200  # nothing more to do; not audited twice
    after = await listed(client, hall)
    assert after["2号取号机"]["active"] is False and after["2号取号机"]["reason"] == "revoked"
    assert list(after)[-1] == "2号取号机"  # revoked devices last

    # Working again means a new token; the old one stays dead.
    reissued = await client.post(url(hall, f"/{device_id}/reissue"), headers=hall.h("manager"))
    assert reissued.status_code == 200, reissued.text
    new_token = reissued.json()["token"]
    assert new_token != token and reissued.json()["device"]["active"] is True
    assert_problem(await issue(client, hall, bearer(token)), 401, "unauthorized")
    assert (await issue(client, hall, bearer(new_token))).status_code == 201

    entries = await audit_actions(client, hall)
    assert [(e["action"], e["target"]) for e in entries] == [
        ("device.reissue", "device 2号取号机"),
        ("device.revoke", "device 2号取号机"),
        ("device.add", "device 2号取号机"),
    ]
    assert entries[1]["before"] == {"active": True} and entries[1]["after"] == {"active": False}
    assert entries[1]["actor"].endswith(":testhall-manager")
    assert token not in str(entries) and new_token not in str(entries)
    events = await bus_events(app, "device.changed")
    assert [e["action"] for e in events] == ["added", "revoked", "reissued"]
    assert all(e["name"] == "2号取号机" and "token" not in e for e in events)


async def test_rename_and_names_in_use(client: httpx.AsyncClient, hall: Hall, app: Any) -> None:
    added = await add(client, hall, "display", "大厅屏")
    device_id = added["device"]["id"]
    taken = await client.post(
        url(hall), json={"kind": "kiosk", "name": "大厅屏"}, headers=hall.h("manager")
    )
    assert_problem(taken, 409, "account_exists")
    renamed = await client.put(
        url(hall, f"/{device_id}/name"), json={"name": " 一楼大厅屏 "}, headers=hall.h("manager")
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "一楼大厅屏"
    clash = await client.put(
        url(hall, f"/{device_id}/name"),
        json={"name": "testhall-kiosk"},
        headers=hall.h("manager"),
    )
    assert_problem(clash, 409, "account_exists")
    # The display's token works under its new name.
    me = await client.get("/api/v1/auth/me", headers=bearer(added["token"]))
    assert me.status_code == 200 and me.json()["name"] == "一楼大厅屏"
    for bad in ({"name": ""}, {"name": "   "}, {"name": "a\nb"}, {"name": "x" * 101}):
        response = await client.put(
            url(hall, f"/{device_id}/name"), json=bad, headers=hall.h("manager")
        )
        assert_problem(response, 422, "validation_error")
    # A kind a hall's manager does not add (hardware behind a device, the operator's kinds).
    for kind in ("printer", "station", "admin"):
        bad_kind = await client.post(
            url(hall), json={"kind": kind, "name": "x"}, headers=hall.h("manager")
        )
        assert_problem(bad_kind, 422, "validation_error")
    entry = (await audit_actions(client, hall))[0]
    assert entry["action"] == "device.rename"
    assert entry["before"] == {"name": "大厅屏"} and entry["after"] == {"name": "一楼大厅屏"}


async def test_who_administers_devices(client: httpx.AsyncClient, hall: Hall, bhall: Hall) -> None:
    before = await listed(client, hall)
    kiosk_id, gateway_id = before["testhall-kiosk"]["id"], before["testhall-gateway"]["id"]
    calls = [
        ("GET", url(hall), None),
        ("POST", url(hall), {"kind": "kiosk", "name": "k-x"}),
        ("POST", url(hall, f"/{kiosk_id}/revoke"), None),
        ("POST", url(hall, f"/{kiosk_id}/reissue"), None),
        ("PUT", url(hall, f"/{kiosk_id}/name"), {"name": "k-y"}),
        ("PUT", url(hall, f"/{gateway_id}/assignments"), {"key": "keypad:1", "window": 2}),
    ]
    refused = {
        **{
            who: (hall.h(who), 403, "forbidden") for who in ("staff", "kiosk", "gateway", "display")
        },
        **{f"b-{who}": (bhall.h(who), 403, "forbidden") for who in ("manager", "admin")},
        "nobody": ({}, 401, "unauthorized"),
        "forged": (bearer("jhd_" + "B" * 43), 401, "unauthorized"),
    }
    for who, (headers, status, code) in refused.items():
        for method, path, body in calls:
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code == status, (who, method, path, response.text)
            assert_problem(response, status, code)
    # Nothing changed; and an admin of the hall may do what a manager may.
    assert await listed(client, hall, "admin") == before
    # Another hall's device is not found from this hall.
    b_kiosk = (await listed(client, bhall))[f"{bhall.code}-kiosk"]["id"]
    stranger = await client.post(url(hall, f"/{b_kiosk}/revoke"), headers=hall.h("manager"))
    assert_problem(stranger, 404, "not_found")
    assert (await issue(client, bhall, bhall.h("kiosk"))).status_code == 201
    # The assignments: a gateway reads its own, a manager all, other callers nothing.
    assignments = f"{API}/{hall.code}/devices/assignments"
    for who in ("gateway", "manager", "admin"):
        assert (await client.get(assignments, headers=hall.h(who))).status_code == 200
    for who in ("staff", "kiosk", "display"):
        assert_problem(await client.get(assignments, headers=hall.h(who)), 403, "forbidden")
    assert_problem(await client.get(assignments, headers=bhall.h("gateway")), 403, "forbidden")


KEYPAD_REPORT = {
    "devices": [
        {"key": "bus:hall", "kind": "bus", "window": None, "status": "online"},
        {"key": "keypad:1", "kind": "keypad", "window": 1, "status": "online"},
        {"key": "evaluator:1", "kind": "evaluator", "window": 1, "status": "online"},
        {"key": "led:1", "kind": "led", "window": 1, "status": "online"},
    ]
}


async def test_a_keypad_assigned_to_another_window(
    client: httpx.AsyncClient, hall: Hall, app: Any
) -> None:
    reported = await client.put(
        f"{API}/{hall.code}/devices/health", json=KEYPAD_REPORT, headers=hall.h("gateway")
    )
    assert reported.status_code == 200, reported.text
    gateway = (await listed(client, hall))["testhall-gateway"]
    assert gateway["status"] == "online"
    hardware = {h["key"]: h for h in gateway["hardware"]}
    assert hardware["keypad:1"]["file_window"] == 1
    assert hardware["keypad:1"]["assigned_window"] is None
    assert hardware["led:1"]["file_window"] is None  # a board stays where it hangs

    assign = url(hall, f"/{gateway['id']}/assignments")
    moved = await client.put(
        assign, json={"key": "keypad:1", "window": 3}, headers=hall.h("manager")
    )
    assert moved.status_code == 200, moved.text
    assert moved.json() == {
        "gateway_id": gateway["id"],
        "gateway": "testhall-gateway",
        "key": "keypad:1",
        "window": 3,
        "file_window": 1,
        "assigned": True,
    }
    own = await client.get(f"{API}/{hall.code}/devices/assignments", headers=hall.h("gateway"))
    assert [(a["key"], a["window"]) for a in own.json()] == [("keypad:1", 3)]
    hardware = {h["key"]: h for h in (await listed(client, hall))["testhall-gateway"]["hardware"]}
    assert hardware["keypad:1"]["assigned_window"] == 3

    refusals = [
        ({"key": "led:1", "window": 2}, 422, "validation_error"),  # a board is not moved
        ({"key": "keypad:7", "window": 2}, 404, "not_found"),  # never reported
        ({"key": "keypad:1", "window": 99}, 404, "not_found"),  # no such window
        ({"key": "keypad:1", "window": 0}, 422, "validation_error"),
    ]
    for body, status, code in refusals:
        response = await client.put(assign, json=body, headers=hall.h("manager"))
        assert_problem(response, status, code)
    kiosk_id = (await listed(client, hall))["testhall-kiosk"]["id"]
    not_gateway = await client.put(
        url(hall, f"/{kiosk_id}/assignments"),
        json={"key": "keypad:1", "window": 2},
        headers=hall.h("manager"),
    )
    assert_problem(not_gateway, 404, "not_found")

    back = await client.put(
        assign, json={"key": "keypad:1", "window": None}, headers=hall.h("manager")
    )
    assert back.json()["window"] == 1 and back.json()["assigned"] is False
    own = await client.get(f"{API}/{hall.code}/devices/assignments", headers=hall.h("gateway"))
    assert own.json() == []
    events = await bus_events(app, "device.assigned")
    assert [(e["key"], e["before"], e["window"]) for e in events] == [
        ("keypad:1", 1, 3),
        ("keypad:1", 3, 1),
    ]
    entries = await audit_actions(client, hall)
    assert [(e["action"], e["before"], e["after"]) for e in entries] == [
        ("device.assign", {"window": 3}, {"window": 1}),
        ("device.assign", {"window": 1}, {"window": 3}),
    ]
    # A revoked gateway's devices are not assigned.
    await client.post(url(hall, f"/{gateway['id']}/revoke"), headers=hall.h("manager"))
    response = await client.put(
        assign, json={"key": "keypad:1", "window": 2}, headers=hall.h("manager")
    )
    assert_problem(response, 409, "device_revoked")


async def login(client: httpx.AsyncClient, username: str, password: str) -> str:
    response = await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_a_password_reset_cuts_the_tokens_issued_before(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    old = bearer(await login(client, "testhall-staff", PASSWORD))
    assert (await client.get("/api/v1/auth/me", headers=old)).status_code == 200
    staff_id = (await client.get("/api/v1/auth/me", headers=old)).json()["id"]
    reset = await client.post(
        f"{API}/{hall.code}/accounts/{staff_id}/reset-password", headers=hall.h("manager")
    )
    assert reset.status_code == 200, reset.text
    # The token from before the reset is refused at once; a login with the new one works.
    assert_problem(await client.get("/api/v1/auth/me", headers=old), 401, "unauthorized")
    assert_problem(await client.get(f"{API}/{hall.code}/queues", headers=old), 401, "unauthorized")
    new = bearer(await login(client, "testhall-staff", reset.json()["password"]))
    assert (await client.get("/api/v1/auth/me", headers=new)).status_code == 200
    # Logging in again does not cut the other tokens of the same password.
    again = bearer(await login(client, "testhall-staff", reset.json()["password"]))
    assert (await client.get("/api/v1/auth/me", headers=new)).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=again)).status_code == 200


async def test_a_revoked_gateway_raises_no_device_alerts(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    base = f"{API}/{hall.code}"
    report = {"devices": [{"key": "led:1", "kind": "led", "window": 1, "status": "offline"}]}
    sent = await client.put(f"{base}/devices/health", json=report, headers=hall.h("gateway"))
    assert sent.status_code == 200
    opened = await client.post(f"{base}/alerts/evaluate", headers=hall.h("manager"))
    assert [a["kind"] for a in opened.json()] == ["device_offline"]
    gateway_id = (await listed(client, hall))["testhall-gateway"]["id"]
    await client.post(url(hall, f"/{gateway_id}/revoke"), headers=hall.h("manager"))
    # Revoked on purpose: what it last said, and its silence from now on, are no alerts.
    await client.post(f"{base}/alerts/evaluate", headers=hall.h("manager"))
    still = await client.get(f"{base}/alerts", headers=hall.h("manager"))
    assert [a["kind"] for a in still.json()] == []


async def test_a_reset_closes_the_accounts_open_pages(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    """The bus socket guard reads the socket's caller again (an announcement on
    PostgreSQL, its one-second round on SQLite): a token from before the reset is cut."""
    token = await login(client, "testhall-staff", PASSWORD)
    staff_id = (await client.get("/api/v1/auth/me", headers=bearer(token))).json()["id"]
    path = f"{API}/{hall.code}/events"
    async with AsgiWebSocket(app, path, query={"token": token}) as ws:
        await ws.receive_kind("snapshot")
        await ws.receive_kind("live")
        reset = await client.post(
            f"{API}/{hall.code}/accounts/{staff_id}/reset-password", headers=hall.h("manager")
        )
        assert reset.status_code == 200
        with pytest.raises(Closed) as done:
            while True:
                await ws.receive(10)
        assert done.value.code == 4401 and "password" in done.value.reason
