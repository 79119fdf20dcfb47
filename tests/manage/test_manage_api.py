"""The hall manager's dashboard API (实时监控) on both databases: the overview, alerts
with acknowledge, tidal recommendations accepted and dismissed, a window's services
changed on the spot (audited), the hall notice; and who may use it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from services.engine.core.db import utcnow
from services.engine.devices.rules import HealthStatus
from services.engine.events import outbox
from services.engine.halls.models import Hall as HallRow
from services.engine.setup.apply import apply_hall_file
from services.engine.setup.hall_file import parse_hall_file
from services.engine.tickets.models import Ticket
from services.engine.windows.models import Window
from tests.helpers.api import API, act, assert_problem, issue
from tests.helpers.halls import TEST_HALL, Hall


def url(hall: Hall, path: str) -> str:
    return f"{API}/{hall.code}/{path}"


async def overview(client: httpx.AsyncClient, hall: Hall) -> dict[str, Any]:
    response = await client.get(url(hall, "manage/overview"), headers=hall.h("manager"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def evaluate(client: httpx.AsyncClient, hall: Hall) -> list[dict[str, Any]]:
    response = await client.post(url(hall, "alerts/evaluate"), headers=hall.h("manager"))
    assert response.status_code == 200, response.text
    opened: list[dict[str, Any]] = response.json()
    return opened


async def run_sql(app: Any, statement: Any) -> None:
    async with app.state.sessionmaker() as session:
        await session.execute(statement)
        await session.commit()


async def test_the_overview_shows_windows_queues_and_devices(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    first = await issue(client, hall, "business")
    await issue(client, hall, "business")
    await issue(client, hall, "estate")
    assert (await act(client, hall, 1, "open")).status_code == 200
    assert (await act(client, hall, 1, "call-next")).status_code == 200
    assert (await act(client, hall, 2, "open")).status_code == 200
    assert (await act(client, hall, 2, "pause", {"reason": "午休"})).status_code == 200
    body = await overview(client, hall)
    tiles = {w["number"]: w for w in body["windows"]}
    assert tiles[1]["state"] == "calling" and tiles[1]["current_ticket"] == first["number"]
    assert tiles[1]["current_service"] == "business" and tiles[1]["in_hand_since"]
    assert tiles[2]["state"] == "paused" and tiles[2]["pause_reason"] == "午休"
    assert tiles[3]["state"] == "closed"
    assert {(s["service"], s["role"]) for s in tiles[4]["services"]} == {("estate", "primary")}
    queues = {q["service"]: q for q in body["queues"]}
    assert queues["business"]["waiting"] == 1 and queues["business"]["issued_today"] == 2
    assert queues["business"]["by_class"] == {"normal": 1}
    assert queues["estate"]["quota_left"] == 2 and queues["estate"]["oldest_wait_minutes"] >= 0
    assert body["hall"]["pause_alert_minutes"] == 15 and body["alerts"] == []
    # The kiosk and the gateway have never reported: listed offline, not an alert.
    assert {d["reporter"] for d in body["devices"]} == {"testhall-kiosk", "testhall-gateway"}
    assert all(d["status"] == "offline" for d in body["devices"])
    assert await evaluate(client, hall) == []


async def test_a_finished_case_counts_at_its_window_and_in_its_queue(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    await issue(client, hall, "business")
    await act(client, hall, 3, "open")
    await act(client, hall, 3, "call-next")
    assert (await act(client, hall, 3, "finish")).status_code == 200
    body = await overview(client, hall)
    assert {w["number"]: w["cases_today"] for w in body["windows"]}[3] == 1
    assert {q["service"]: q["served_today"] for q in body["queues"]}["business"] == 1


async def test_alerts_open_clear_and_are_acknowledged_with_who_and_when(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    await issue(client, hall, "business")
    await act(client, hall, 2, "open")
    await act(client, hall, 2, "pause", {"reason": "临时离岗"})
    long_ago = utcnow() - timedelta(minutes=45)
    await run_sql(app, update(Ticket).values(queued_at=long_ago))
    await run_sql(app, update(Window).where(Window.number == 2).values(state_changed_at=long_ago))
    opened = {a["kind"]: a for a in await evaluate(client, hall)}
    assert set(opened) == {"queue_over_target", "window_paused_long"}
    queue = opened["queue_over_target"]
    assert queue["data"]["service"] == "business" and queue["severity"] == "critical"
    assert opened["window_paused_long"]["data"] == {
        "window": 2,
        "reason": "临时离岗",
        "limit_minutes": 15,
    }
    # The same conditions open nothing new.
    assert await evaluate(client, hall) == []
    ack = await client.post(
        url(hall, f"alerts/{queue['id']}/acknowledge"), headers=hall.h("manager")
    )
    assert ack.status_code == 200, ack.text
    assert ack.json()["acknowledged_by"] == "testhall-manager" and ack.json()["acknowledged_at"]
    assert ack.json()["cleared_at"] is None  # still waiting too long: stays, acknowledged
    # The window resumes: its alert clears; the queue's stays.
    await act(client, hall, 2, "resume")
    assert await evaluate(client, hall) == []
    body = await overview(client, hall)
    assert [a["kind"] for a in body["alerts"]] == ["queue_over_target"]
    assert body["alerts"][0]["acknowledged_by"] == "testhall-manager"
    closed = body["closed_alerts"][0]
    assert closed["kind"] == "window_paused_long" and closed["resolution"] == "cleared"
    assert [e["action"] for e in body["audit"]] == ["alert.acknowledge"]
    missing = await client.post(url(hall, "alerts/999999/acknowledge"), headers=hall.h("manager"))
    assert_problem(missing, 404, "not_found")


async def test_a_device_that_fails_is_an_alert(client: httpx.AsyncClient, hall: Hall) -> None:
    report = {
        "devices": [
            {
                "key": "printer",
                "kind": "printer",
                "status": HealthStatus.ERROR.value,
                "reason": "paper out",
            }
        ]
    }
    response = await client.put(url(hall, "devices/health"), json=report, headers=hall.h("kiosk"))
    assert response.status_code == 200, response.text
    opened = await evaluate(client, hall)
    assert [(a["kind"], a["data"]["reason"]) for a in opened] == [("device_error", "paper out")]
    report["devices"][0].update(status="online", reason=None)
    await client.put(url(hall, "devices/health"), json=report, headers=hall.h("kiosk"))
    await evaluate(client, hall)
    assert (await overview(client, hall))["alerts"] == []


async def tidal_hall(app: Any, hall: Hall) -> None:
    """Recommend a tidal window 3 for estate from 2 waiting."""
    tidal = {
        "mode": "recommend",
        "windows": [3],
        "weight": 2.0,
        "rules": [{"service": "estate", "high_waiting": 2, "low_waiting": 0, "hold_minutes": 0}],
    }
    await run_sql(app, update(HallRow).where(HallRow.code == hall.code).values(tidal=tidal))


async def test_a_tidal_recommendation_is_accepted_and_window_3_calls_estate(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    await tidal_hall(app, hall)
    await issue(client, hall, "estate")
    await issue(client, hall, "estate")
    opened = await evaluate(client, hall)
    assert [a["kind"] for a in opened] == ["tidal"]
    tidal = opened[0]
    assert tidal["data"]["service"] == "estate" and tidal["data"]["windows"] == [3]
    assert tidal["data"]["action"] == "open"
    staff = await client.post(url(hall, f"alerts/{tidal['id']}/accept"), headers=hall.h("staff"))
    assert_problem(staff, 403, "forbidden")
    accepted = await client.post(
        url(hall, f"alerts/{tidal['id']}/accept"), headers=hall.h("manager")
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["windows_changed"] == [3]
    assert accepted.json()["alert"]["resolution"] == "accepted"
    again = await client.post(url(hall, f"alerts/{tidal['id']}/accept"), headers=hall.h("manager"))
    assert_problem(again, 409, "alert_resolved")
    # Window 3 (business only in the file) now calls estate.
    await act(client, hall, 3, "open")
    called = await act(client, hall, 3, "call-next")
    assert called.json()["ticket"]["service"] == "estate"
    tiles = {w["number"]: w for w in (await overview(client, hall))["windows"]}
    assert {"service": "estate", "weight": 2.0, "role": "tidal"} in tiles[3]["services"]
    # Not alerted again once resolved.
    assert await evaluate(client, hall) == []


async def test_a_tidal_recommendation_is_dismissed(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    await tidal_hall(app, hall)
    await issue(client, hall, "estate")
    await issue(client, hall, "estate")
    (tidal,) = await evaluate(client, hall)
    dismissed = await client.post(
        url(hall, f"alerts/{tidal['id']}/dismiss"), headers=hall.h("manager")
    )
    assert dismissed.status_code == 200 and dismissed.json()["windows_changed"] == []
    tiles = {w["number"]: w for w in (await overview(client, hall))["windows"]}
    assert [s["service"] for s in tiles[3]["services"]] == ["business"]
    audit = (await overview(client, hall))["audit"]
    assert [e["action"] for e in audit] == ["tidal.dismiss"]


async def test_a_window_is_adjusted_on_the_spot_and_audited(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    await issue(client, hall, "estate")
    change = {
        "services": [
            {"service": "business", "weight": 1.0, "role": "primary"},
            {"service": "estate", "weight": 0.5, "role": "secondary"},
        ]
    }
    response = await client.put(
        url(hall, "windows/3/services"), json=change, headers=hall.h("manager")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["adjusted"] is True
    assert body["before"] == [{"service": "business", "weight": 1.0, "role": "primary"}]
    assert {"service": "estate", "weight": 0.5, "role": "secondary"} in body["after"]
    # At once: window 3 helps estate (nothing of its own waits).
    await act(client, hall, 3, "open")
    called = await act(client, hall, 3, "call-next")
    assert called.json()["ticket"]["service"] == "estate"
    view = await overview(client, hall)
    tile = {w["number"]: w for w in view["windows"]}[3]
    assert tile["adjusted_at"] and tile["planned_services"] == body["before"]
    (entry,) = view["audit"]
    assert entry["action"] == "window.services" and entry["target"] == "window 3"
    assert entry["actor"].endswith("testhall-manager")
    assert entry["before"] == {"business": [1.0, "primary"]}
    # Back to the plan: no longer marked adjusted.
    back = {"services": [{"service": "business", "weight": 1.0, "role": "primary"}]}
    again = await client.put(url(hall, "windows/3/services"), json=back, headers=hall.h("manager"))
    assert again.json()["adjusted"] is False


async def test_bad_window_changes_are_refused_and_change_nothing(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    cases = [
        ({"services": [{"service": "nope", "weight": 1}]}, 422, "validation_error"),
        ({"services": [{"service": "estate", "role": "secondary"}]}, 422, "validation_error"),
        ({"services": []}, 422, "validation_error"),
        ({"services": [{"service": "estate", "weight": 0}]}, 422, "validation_error"),
    ]
    for body, status, code in cases:
        response = await client.put(
            url(hall, "windows/3/services"), json=body, headers=hall.h("manager")
        )
        assert_problem(response, status, code)
    missing = await client.put(
        url(hall, "windows/99/services"),
        json={"services": [{"service": "estate"}]},
        headers=hall.h("manager"),
    )
    assert_problem(missing, 404, "not_found")
    view = await overview(client, hall)
    assert view["audit"] == []
    assert {w["number"]: w for w in view["windows"]}[3]["adjusted_at"] is None


async def test_the_hall_notice_changes_at_once(client: httpx.AsyncClient, hall: Hall) -> None:
    response = await client.put(
        url(hall, "notice"), json={"notice": "  今日午间照常办理  "}, headers=hall.h("manager")
    )
    assert response.status_code == 200 and response.json() == {"notice": "今日午间照常办理"}
    read = await client.get(f"{API}/{hall.code}", headers=hall.h("display"))
    assert read.json()["notice"] == "今日午间照常办理"
    (entry,) = (await overview(client, hall))["audit"]
    assert (entry["action"], entry["before"], entry["after"]) == (
        "hall.notice",
        "",
        "今日午间照常办理",
    )


async def test_only_managers_of_the_hall_use_the_dashboard(
    client: httpx.AsyncClient, hall: Hall, bhall: Hall
) -> None:
    calls = [
        ("GET", "manage/overview", None),
        ("GET", "alerts", None),
        ("POST", "alerts/evaluate", None),
        ("POST", "alerts/1/acknowledge", None),
        ("POST", "alerts/1/accept", None),
        ("PUT", "windows/3/services", {"services": [{"service": "business"}]}),
        ("PUT", "notice", {"notice": "x"}),
        ("GET", f"audit?since={utcnow().isoformat().replace('+', '%2B')}", None),
    ]
    for who in ("staff", "kiosk", "gateway", "display"):
        for method, path, body in calls:
            response = await client.request(method, url(hall, path), json=body, headers=hall.h(who))
            assert_problem(response, 403, "forbidden")
    for method, path, body in calls:
        other = await client.request(method, url(hall, path), json=body, headers=bhall.h("manager"))
        assert_problem(other, 403, "forbidden")
        anonymous = await client.request(method, url(hall, path), json=body)
        assert_problem(anonymous, 401, "unauthorized")
    admin = await client.get(url(hall, "manage/overview"), headers=hall.h("admin"))
    assert admin.status_code == 200


async def test_the_sweeper_alerts_every_hall_and_the_bus_says_so(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    report = {"devices": [{"key": "led:1", "kind": "led", "window": 1, "status": "offline"}]}
    await client.put(url(hall, "devices/health"), json=report, headers=hall.h("gateway"))
    assert await app.state.alert_sweeper.run_once() == 1
    assert await app.state.alert_sweeper.run_once() == 0
    (alert,) = (await overview(client, hall))["alerts"]
    assert alert["kind"] == "device_offline" and alert["data"]["window"] == 1


async def services_of_window(client: httpx.AsyncClient, hall: Hall, number: int) -> Any:
    listed = (await client.get(url(hall, "windows"), headers=hall.h("manager"))).json()
    return {w["number"]: w["services"] for w in listed}[number]


async def reapply(app: Any, text: str) -> list[str]:
    async with app.state.sessionmaker() as session:
        report = await apply_hall_file(session=session, spec=parse_hall_file(text))
    return report.changes


ADJUST = {
    "services": [
        {"service": "business", "weight": 1.0, "role": "primary"},
        {"service": "estate", "weight": 2.0, "role": "primary"},
    ]
}


async def test_hall_apply_of_the_unchanged_file_resets_an_on_the_spot_change(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    put = await client.put(url(hall, "windows/3/services"), json=ADJUST, headers=hall.h("manager"))
    assert put.status_code == 200
    changes = await reapply(app, TEST_HALL.read_text(encoding="utf-8"))
    assert any("window 3: services changed on the spot" in c and "reset" in c for c in changes)
    assert await services_of_window(client, hall, 3) == {"business": 1.0}
    tile = {w["number"]: w for w in (await overview(client, hall))["windows"]}[3]
    assert tile["adjusted_at"] is None and tile["planned_services"] is None
    # And then applying it again changes nothing.
    assert await reapply(app, TEST_HALL.read_text(encoding="utf-8")) == []


async def test_hall_apply_keeps_an_on_the_spot_change_when_the_file_says_so(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    keep = TEST_HALL.read_text(encoding="utf-8").replace(
        'timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"\nkeep_adjustments = true', 1
    )
    assert "keep_adjustments = true" in keep
    assert await reapply(app, keep) == []  # nothing adjusted yet: nothing to say
    await client.put(url(hall, "windows/3/services"), json=ADJUST, headers=hall.h("manager"))
    changes = await reapply(app, keep)
    (said,) = changes
    assert "window 3: keeps its services changed on the spot" in said
    assert (
        "'estate': [2.0, 'primary']" in said and "the file's {'business': [1.0, 'primary']}" in said
    )
    assert await services_of_window(client, hall, 3) == {"business": 1.0, "estate": 2.0}
    tile = {w["number"]: w for w in (await overview(client, hall))["windows"]}[3]
    assert tile["adjusted_at"] is not None
    assert tile["planned_services"] == [{"service": "business", "weight": 1.0, "role": "primary"}]


async def test_a_new_bad_review_case_on_the_bus_is_an_alert_once(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    """The 好差评 loop stages ``review.case_opened`` (docs/bus.md); the dashboard alerts it
    whatever wrote it, so this test writes the event itself."""
    async with app.state.sessionmaker() as session:
        window_id = (
            await session.execute(select(Window.id).where(Window.number == 4))
        ).scalar_one()
        hall_id = (await session.execute(select(HallRow.id))).scalar_one()
        payload = {
            "case_id": 5,
            "ticket_id": 9,
            "number": "B007",
            "level": 1,
            "state": "open",
            "window_id": window_id,
            "staff_user_id": None,
        }
        outbox.stage(session, hall_id, "review.case_opened", payload)
        await outbox.commit(session)
    (alert,) = await evaluate(client, hall)
    assert alert["kind"] == "bad_review" and alert["severity"] == "critical"
    assert (alert["data"]["number"], alert["data"]["window"], alert["data"]["level"]) == (
        "B007",
        4,
        1,
    )
    ack = await client.post(
        url(hall, f"alerts/{alert['id']}/acknowledge"), headers=hall.h("manager")
    )
    assert ack.json()["resolution"] == "acknowledged" and ack.json()["cleared_at"]
    assert await evaluate(client, hall) == []
