"""The window console's engine actions (#16): sign-in at a window, hold and call back,
the outcome of a case, calling by printed number, the window log, the console view and
the end-of-day expiry of held tickets. Both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from services.engine.core.db import utcnow
from services.engine.events.models import HallEvent
from services.engine.tickets.models import Ticket, TicketEvent
from services.engine.windows import service as windows_service
from tests.helpers import api
from tests.helpers.api import API, assert_problem, issue
from tests.helpers.halls import Hall


async def act(
    client: httpx.AsyncClient,
    hall: Hall,
    window: int,
    action: str,
    body: dict[str, Any] | None = None,
    *,
    who: str = "staff",
) -> httpx.Response:
    """A window action, by the hall's clerk unless told (these tests are about them)."""
    return await api.act(client, hall, window, action, body, who=who)


async def console(client: httpx.AsyncClient, hall: Hall, window: int, who: str = "staff") -> Any:
    response = await client.get(f"{API}/{hall.code}/windows/{window}/console", headers=hall.h(who))
    assert response.status_code == 200, response.text
    return response.json()


async def events_of(app: Any, ticket_id: int) -> list[tuple[str, str, int | None]]:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            select(TicketEvent.action, TicketEvent.to_status, TicketEvent.staff_user_id)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(TicketEvent.id)
        )
        return [(a, s, u) for a, s, u in rows.all()]


async def hall_events(app: Any, kind: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            select(HallEvent.payload).where(HallEvent.type == kind).order_by(HallEvent.seq)
        )
        return [dict(p) for (p,) in rows.all()]


async def staff_id(client: httpx.AsyncClient, hall: Hall, window: int) -> int:
    signed = await act(client, hall, window, "sign-in")
    assert signed.status_code == 200, signed.text
    user: int = signed.json()["window"]["staff_user_id"]
    return user


# --- sign-in ----------------------------------------------------------------------------


async def test_sign_in_moves_the_clerk_and_is_logged(
    app, client: httpx.AsyncClient, hall: Hall
) -> None:  # type: ignore[no-untyped-def]
    signed = await act(client, hall, 1, "sign-in")
    assert signed.status_code == 200, signed.text
    window = signed.json()["window"]
    assert window["staff"] == f"{hall.code}-staff" and window["staff_since"]
    user = window["staff_user_id"]

    # Signing in elsewhere signs out here first, with an event.
    moved = await act(client, hall, 2, "sign-in")
    assert moved.json()["window"]["staff_user_id"] == user
    windows = {
        w["number"]: w
        for w in (await client.get(f"{API}/{hall.code}/windows", headers=hall.h("display"))).json()
    }
    assert windows[1]["staff_user_id"] is None and windows[2]["staff"] == f"{hall.code}-staff"
    staff_events = await hall_events(app, "window.staff")
    assert [(e["window"], e["staff_user_id"]) for e in staff_events] == [
        (1, user),
        (1, None),
        (2, user),
    ]

    # Staff act only where they are signed in; a manager anywhere.
    refused = await act(client, hall, 1, "open")
    assert refused.status_code == 200  # opening signs a staff member in there
    assert (await act(client, hall, 2, "pause", {"reason": "午休"})).status_code == 403
    assert_problem(await act(client, hall, 2, "resume"), 403, "not_signed_in")
    assert (await act(client, hall, 2, "open", who="manager")).status_code == 200
    assert (
        await act(client, hall, 2, "pause", {"reason": "午休"}, who="manager")
    ).status_code == 200
    # A device has no person to sign in.
    assert_problem(await act(client, hall, 3, "sign-in", who="gateway"), 403, "staff_only")

    assert (await act(client, hall, 1, "pause", {"reason": "临时离岗"})).status_code == 200
    assert (await act(client, hall, 1, "resume")).status_code == 200
    assert (await act(client, hall, 1, "close")).status_code == 200
    log = await client.get(
        f"{API}/{hall.code}/windows/log",
        params={"since": (utcnow() - timedelta(minutes=5)).isoformat()},
        headers=hall.h("manager"),
    )
    assert log.status_code == 200, log.text
    lines = [(e["window"], e["action"], e["staff"]) for e in log.json()]
    me = f"{hall.code}-staff"
    assert lines == [
        (1, "sign_in", me),
        (1, "sign_out", me),
        (2, "sign_in", me),
        (2, "sign_out", me),  # window 1 opened: signed in there, out of 2
        (1, "sign_in", me),
        (1, "open", me),
        (2, "open", None),
        (2, "pause", None),
        (1, "pause", me),
        (1, "resume", me),
        (1, "sign_out", me),  # closing signs the clerk out
        (1, "close", None),
    ]
    details = [e["detail"] for e in log.json()]
    assert details[1]["by"] == "signed_in_elsewhere" and details[3]["by"] == "signed_in_elsewhere"
    assert details[8] == {"reason": "临时离岗"} and details[10]["by"] == "window_closed"
    # Staff do not read the window log; one window's log only.
    assert (
        await client.get(
            f"{API}/{hall.code}/windows/log",
            params={"since": (utcnow() - timedelta(minutes=5)).isoformat()},
            headers=hall.h("staff"),
        )
    ).status_code == 403
    only_2 = await client.get(
        f"{API}/{hall.code}/windows/log",
        params={"since": (utcnow() - timedelta(minutes=5)).isoformat(), "window": 2},
        headers=hall.h("manager"),
    )
    assert {e["window"] for e in only_2.json()} == {2} and len(only_2.json()) == 4


async def test_keypad_steps_are_the_signed_in_clerks(
    app, client: httpx.AsyncClient, hall: Hall
) -> None:  # type: ignore[no-untyped-def]
    ticket = await issue(client, hall)
    user = await staff_id(client, hall, 3)
    assert (await act(client, hall, 3, "open")).status_code == 200
    for step in ("call-next", "start", "finish"):
        assert (await act(client, hall, 3, step, who="gateway")).status_code == 200
    steps = await events_of(app, ticket["id"])
    assert [(a, u) for a, _, u in steps] == [
        ("issue", None),
        ("call", user),
        ("start", user),
        ("finish", user),
    ]
    # Signing out with a ticket in hand is refused; without, allowed.
    await issue(client, hall)
    assert (await act(client, hall, 3, "call-next")).status_code == 200
    assert_problem(await act(client, hall, 3, "sign-out"), 409, "window_busy")
    assert (await act(client, hall, 3, "finish")).status_code == 200
    out = await act(client, hall, 3, "sign-out")
    assert out.status_code == 200 and out.json()["window"]["staff_user_id"] is None


# --- hold and call back -----------------------------------------------------------------


async def test_hold_frees_the_window_and_call_back_calls_it_again(
    app, client: httpx.AsyncClient, hall: Hall
) -> None:  # type: ignore[no-untyped-def]
    first = await issue(client, hall)
    second = await issue(client, hall)
    await staff_id(client, hall, 1)
    assert (await act(client, hall, 1, "open")).status_code == 200
    assert (await act(client, hall, 1, "call-next")).json()["ticket"]["number"] == first["number"]
    assert (await act(client, hall, 1, "start")).status_code == 200

    held = await act(client, hall, 1, "hold", {"kind": "missing_documents", "reason": "缺营业执照"})
    assert held.status_code == 200, held.text
    body = held.json()
    assert body["ticket"]["status"] == "held" and body["ticket"]["hold_kind"] == "missing_documents"
    assert body["window"]["state"] == "idle" and body["window"]["current_ticket"] is None

    listed = await client.get(f"{API}/{hall.code}/windows/1/held", headers=hall.h("staff"))
    assert [(h["number"], h["kind"], h["reason"]) for h in listed.json()] == [
        (first["number"], "missing_documents", "缺营业执照")
    ]
    # The window serves the next citizen meanwhile; a held ticket is never called next.
    assert (await act(client, hall, 1, "call-next")).json()["ticket"]["number"] == second["number"]
    assert_problem(await act(client, hall, 1, "call-back"), 409, "window_busy")
    assert (await act(client, hall, 1, "finish")).status_code == 200
    assert_problem(await act(client, hall, 1, "call-next"), 404, "queue_empty")

    # Another window cannot call it back; a ticket not held cannot be called back.
    await act(client, hall, 2, "open", who="manager")
    assert_problem(
        await act(client, hall, 2, "call-back", {"ticket_id": first["id"]}, who="manager"),
        409,
        "held_by_other_window",
    )
    assert_problem(
        await act(client, hall, 1, "call-back", {"ticket_id": second["id"]}),
        409,
        "ticket_not_held",
    )

    # Back at window 1, by its printed number typed loosely (a023 for A023).
    typed = first["number"].lower().replace("00", "0")
    back = await act(client, hall, 1, "call-back", {"number": typed})
    assert back.status_code == 200, back.text
    assert back.json()["ticket"]["status"] == "called"
    assert back.json()["window"]["current_ticket"] == first["number"]
    called = await hall_events(app, "ticket.called")
    assert called[-1]["number"] == first["number"] and called[-1]["called_back"] is True
    assert called[-1]["window"] == 1
    assert (
        await client.get(f"{API}/{hall.code}/windows/1/held", headers=hall.h("staff"))
    ).json() == []
    # Nothing left to call back.
    assert (await act(client, hall, 1, "finish", {"outcome": "done"})).status_code == 200
    assert_problem(await act(client, hall, 1, "call-back"), 409, "nothing_held")

    steps = [(a, s) for a, s, _ in await events_of(app, first["id"])]
    assert steps == [
        ("issue", "waiting"),
        ("call", "called"),
        ("start", "serving"),
        ("hold", "held"),
        ("call_back", "called"),
        ("finish", "done"),
    ]


async def test_held_time_is_not_handling_time(app, client: httpx.AsyncClient, hall: Hall) -> None:  # type: ignore[no-untyped-def]
    ticket = await issue(client, hall)
    await act(client, hall, 1, "open", who="manager")
    await act(client, hall, 1, "call-next", who="manager")
    await act(client, hall, 1, "hold", {"kind": "waiting"}, who="manager")
    # Pretend the case was called 45 minutes ago and held 5 minutes later.
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket["id"])
            .values(
                called_at=utcnow() - timedelta(minutes=45),
                started_at=utcnow() - timedelta(minutes=45),
                held_at=utcnow() - timedelta(minutes=40),
            )
        )
        await session.commit()
    await act(client, hall, 1, "call-back", who="manager")
    done = await act(client, hall, 1, "finish", who="manager")
    body = done.json()["ticket"]
    assert 40 * 60 <= body["held_seconds"] < 41 * 60
    async with app.state.sessionmaker() as session:
        t = await session.get(Ticket, ticket["id"])
        assert t is not None and t.finished_at is not None and t.started_at is not None
        handling = (t.finished_at - t.started_at).total_seconds() - t.held_seconds
        assert 5 * 60 <= handling < 6 * 60


async def test_keypad_hold_and_call_back_keys(app, client: httpx.AsyncClient, hall: Hall) -> None:  # type: ignore[no-untyped-def]
    """What the gateway sends for 0+confirm and 3+confirm: a hold of its configured kind
    and a call back without a ticket, which brings back the one held longest."""
    a = await issue(client, hall)
    b = await issue(client, hall)
    await act(client, hall, 1, "open", who="gateway")
    for _ in range(2):
        await act(client, hall, 1, "call-next", who="gateway")
        assert (
            await act(client, hall, 1, "hold", {"kind": "documents_left"}, who="gateway")
        ).status_code == 200
    back = await act(client, hall, 1, "call-back", who="gateway")
    assert back.json()["ticket"]["number"] == a["number"]
    await act(client, hall, 1, "finish", who="gateway")
    back = await act(client, hall, 1, "call-back", who="gateway")
    assert back.json()["ticket"]["number"] == b["number"]


async def test_held_tickets_expire_when_their_day_is_over(
    app, client: httpx.AsyncClient, hall: Hall
) -> None:  # type: ignore[no-untyped-def]
    ticket = await issue(client, hall)
    await act(client, hall, 1, "open", who="manager")
    await act(client, hall, 1, "call-next", who="manager")
    await act(client, hall, 1, "hold", {"kind": "waiting", "reason": "等待审批"}, who="manager")
    async with app.state.sessionmaker() as session:
        # Today: nothing to expire.
        assert await windows_service.expire_held(session=session) == 0
    # The engine's housekeeping (every minute, in every process) closes it, once.
    swept = await app.state.housekeeper.run_once(now=utcnow() + timedelta(days=1))
    assert swept.held_expired == 1 and swept.failed_steps == 0
    async with app.state.sessionmaker() as session:
        # A second engine process finds nothing left.
        assert (
            await windows_service.expire_held(session=session, now=utcnow() + timedelta(days=1))
            == 0
        )
    looked = await client.get(f"{API}/{hall.code}/tickets/{ticket['id']}", headers=hall.h("staff"))
    assert looked.json()["status"] == "held_expired"
    expired = await hall_events(app, "ticket.held_expired")
    assert [(e["number"], e["window"], e["kind"]) for e in expired] == [
        (ticket["number"], 1, "waiting")
    ]
    assert (
        await client.get(f"{API}/{hall.code}/windows/1/held", headers=hall.h("staff"))
    ).json() == []
    # The citizen may take a new ticket for the service (the held one is closed).
    again = await issue(client, hall)
    assert again["status"] == "waiting"


# --- outcome, call by number, console view ----------------------------------------------


async def test_outcome_recorded_and_required_when_the_hall_says(
    app, client: httpx.AsyncClient, hall: Hall
) -> None:  # type: ignore[no-untyped-def]
    await issue(client, hall)
    await staff_id(client, hall, 1)
    await act(client, hall, 1, "open")
    await act(client, hall, 1, "call-next")
    assert_problem(
        await act(client, hall, 1, "finish", {"outcome": "maybe"}), 422, "validation_error"
    )
    done = await act(client, hall, 1, "finish", {"outcome": "told_missing"})
    assert done.json()["ticket"]["outcome"] == "told_missing"
    finished = await hall_events(app, "ticket.finished")
    assert finished[-1]["outcome"] == "told_missing"

    from services.engine.halls.models import Hall as HallRow

    async with app.state.sessionmaker() as session:
        row = (await session.execute(select(HallRow).where(HallRow.code == hall.code))).scalar_one()
        row.rules = {**row.rules, "outcome_required": True}
        await session.commit()
    app.state.access_cache.forget()
    await issue(client, hall)
    await issue(client, hall)
    await act(client, hall, 1, "call-next")
    body = assert_problem(await act(client, hall, 1, "finish"), 422, "outcome_required")
    assert "told_missing" in body["outcomes"]
    # 顺呼 with a case in hand needs its outcome first too.
    assert_problem(await act(client, hall, 1, "call-next"), 422, "outcome_required")
    # A keypad cannot give one: its 办结 records none.
    keypad = await act(client, hall, 1, "finish", who="gateway")
    assert keypad.status_code == 200 and keypad.json()["ticket"]["outcome"] is None
    view = await console(client, hall, 1)
    assert view["outcome_required"] is True
    assert view["outcomes"] == {"told_missing": 1, "": 1}


async def test_call_a_ticket_by_its_printed_number(client: httpx.AsyncClient, hall: Hall) -> None:
    tickets = [await issue(client, hall) for _ in range(3)]
    await act(client, hall, 1, "open", who="manager")
    wanted = tickets[2]["number"]
    called = await act(
        client, hall, 1, "call", {"number": wanted.lower(), "reason": "急件"}, who="manager"
    )
    assert called.status_code == 200, called.text
    assert called.json()["ticket"]["id"] == tickets[2]["id"]
    assert_problem(
        await act(client, hall, 1, "call", {"number": "Z999", "reason": "x"}, who="manager"),
        404,
        "not_found",
    )
    assert_problem(
        await act(client, hall, 2, "call", {"number": wanted, "reason": "x"}, who="manager"),
        409,
        "window_closed",
    )
    await act(client, hall, 2, "open", who="manager")
    assert_problem(
        await act(client, hall, 2, "call", {"number": wanted, "reason": "x"}, who="manager"),
        409,
        "ticket_not_waiting",
    )
    both = await act(
        client, hall, 2, "call", {"number": wanted, "ticket_id": 1, "reason": "x"}, who="manager"
    )
    assert_problem(both, 422, "validation_error")


async def test_console_view(app, client: httpx.AsyncClient, hall: Hall) -> None:  # type: ignore[no-untyped-def]
    first = await issue(client, hall)
    await issue(client, hall, "estate")
    green = await issue(client, hall, priority="green", who="staff")
    await staff_id(client, hall, 1)
    await act(client, hall, 1, "open")
    view = await console(client, hall, 1)
    assert view["window"]["staff"] == f"{hall.code}-staff" and view["in_hand"] is None
    queues = {q["service"]: q for q in view["queues"]}
    assert queues["business"]["waiting"] == 2 and queues["estate"]["waiting"] == 1
    # Green first in the preview, then by time.
    assert [n["number"] for n in queues["business"]["next"]] == [green["number"], first["number"]]
    assert queues["business"]["target_wait_minutes"] > 0 and queues["business"]["oldest_since"]

    await act(client, hall, 1, "call-next")
    await act(client, hall, 1, "recall")
    view = await console(client, hall, 1)
    hand = view["in_hand"]
    assert hand["number"] == green["number"] and hand["priority"] == "green"
    assert hand["recall_count"] == 1 and view["max_recalls"] == 3
    assert [h["action"] for h in hand["history"]] == ["issue", "call", "recall"]
    assert hand["history"][1]["window"] == 1

    await act(client, hall, 1, "hold", {"kind": "waiting"})
    await act(client, hall, 1, "call-next")
    await act(client, hall, 1, "finish", {"outcome": "done"})
    view = await console(client, hall, 1)
    assert [h["number"] for h in view["held"]] == [green["number"]]
    assert (
        view["today"]["call"] == 2 and view["today"]["hold"] == 1 and view["today"]["finish"] == 1
    )
    last = view["last_finished"]
    assert (
        last["number"] == first["number"] and last["rated"] is False and last["outcome"] == "done"
    )
    rated = await client.post(
        f"{API}/{hall.code}/tickets/{first['id']}/evaluation",
        json={"level": 5},
        headers=hall.h("gateway"),
    )
    assert rated.status_code == 201
    view = await console(client, hall, 1)
    assert view["last_finished"]["rated"] is True
    assert "level" not in view["last_finished"]
    # Screens and devices do not read the console.
    for who in ("display", "kiosk", "gateway"):
        refused = await client.get(f"{API}/{hall.code}/windows/1/console", headers=hall.h(who))
        assert refused.status_code == 403, who


async def test_a_held_ticket_keeps_the_person_from_a_second_ticket(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    """One open ticket per person and service: held is still open."""
    person = {"id_number": "110101199003078515"}
    first = await issue(client, hall, **person)
    await act(client, hall, 1, "open", who="manager")
    await act(client, hall, 1, "call-next", who="manager")
    await act(client, hall, 1, "hold", {"kind": "missing_documents"}, who="manager")
    again = await client.post(
        f"{API}/{hall.code}/tickets",
        json={"service": "business", **person},
        headers=hall.h("kiosk"),
    )
    body = assert_problem(again, 409, "duplicate_open_ticket")
    assert body["ticket_id"] == first["id"]
