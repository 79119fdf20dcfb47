"""The hall's day through the API: issue, call, finish, rate; refusals as problem+json."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from services.engine.tickets.models import Ticket, TicketEvent
from tests.helpers.api import API, act, assert_problem, issue
from tests.helpers.halls import TEST_HALL, Hall, seed_hall


async def test_issue_call_finish_rate(client: httpx.AsyncClient, hall: Hall, app) -> None:  # type: ignore[no-untyped-def]
    first = await issue(client, hall)
    second = await issue(client, hall)
    assert (first["number"], second["number"]) == ("A001", "A002")
    assert first["waiting_ahead"] == 0 and second["waiting_ahead"] == 1
    assert first["status"] == "waiting" and first["service"] == "business"

    assert (await act(client, hall, 1, "open")).status_code == 200
    called = await act(client, hall, 1, "call-next")
    assert called.status_code == 200, called.text
    body = called.json()
    assert body["ticket"]["number"] == "A001"
    assert body["window"]["state"] == "calling" and body["window"]["current_ticket"] == "A001"

    started = await act(client, hall, 1, "start")
    assert started.json()["ticket"]["status"] == "serving"
    finished = await act(client, hall, 1, "finish")
    assert finished.json()["ticket"]["status"] == "done"
    assert finished.json()["window"]["state"] == "idle"

    rating = await client.post(
        f"{API}/{hall.code}/tickets/{first['id']}/evaluation",
        json={"level": 5},
        headers=hall.h("gateway"),
    )
    assert rating.status_code == 201, rating.text
    assert rating.json()["window"] == 1 and rating.json()["level"] == 5

    again = await client.post(
        f"{API}/{hall.code}/tickets/{first['id']}/evaluation",
        json={"level": 4},
        headers=hall.h("gateway"),
    )
    assert_problem(again, 409, "already_rated")

    looked = await client.get(
        f"{API}/{hall.code}/tickets/{second['id']}", headers=hall.h("display")
    )
    assert looked.json()["waiting_ahead"] == 0

    async with app.state.sessionmaker() as session:
        actions = (
            (
                await session.execute(
                    select(TicketEvent.action)
                    .where(TicketEvent.ticket_id == first["id"])
                    .order_by(TicketEvent.id)
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["issue", "call", "start", "finish"]


async def test_bad_rating_needs_reason(client: httpx.AsyncClient, hall: Hall) -> None:
    ticket = await issue(client, hall)
    await act(client, hall, 1, "open")
    await act(client, hall, 1, "call-next")
    not_done = await client.post(
        f"{API}/{hall.code}/tickets/{ticket['id']}/evaluation",
        json={"level": 5},
        headers=hall.h("gateway"),
    )
    assert_problem(not_done, 409, "invalid_ticket_state")
    await act(client, hall, 1, "finish")
    bare = await client.post(
        f"{API}/{hall.code}/tickets/{ticket['id']}/evaluation",
        json={"level": 1},
        headers=hall.h("gateway"),
    )
    assert_problem(bare, 422, "rating_needs_reason")
    out_of_range = await client.post(
        f"{API}/{hall.code}/tickets/{ticket['id']}/evaluation",
        json={"level": 6},
        headers=hall.h("gateway"),
    )
    assert_problem(out_of_range, 422, "validation_error")
    reasoned = await client.post(
        f"{API}/{hall.code}/tickets/{ticket['id']}/evaluation",
        json={"level": 2, "reasons": ["等候时间长"]},
        headers=hall.h("gateway"),
    )
    assert reasoned.status_code == 201


async def test_quota_and_hours_refusals(client: httpx.AsyncClient, hall: Hall) -> None:
    for _ in range(3):
        await issue(client, hall, "estate")
    refused = await client.post(
        f"{API}/{hall.code}/tickets", json={"service": "estate"}, headers=hall.h("kiosk")
    )
    assert_problem(refused, 409, "quota_exhausted")
    closed = await client.post(
        f"{API}/{hall.code}/tickets", json={"service": "night"}, headers=hall.h("kiosk")
    )
    assert_problem(closed, 409, "outside_service_hours")
    unknown = await client.post(
        f"{API}/{hall.code}/tickets", json={"service": "nope"}, headers=hall.h("kiosk")
    )
    assert_problem(unknown, 404, "not_found")
    garbage = await client.post(
        f"{API}/{hall.code}/tickets",
        content=b"{not json",
        headers={**hall.h("kiosk"), "content-type": "application/json"},
    )
    assert_problem(garbage, 422, "validation_error")
    queues = (await client.get(f"{API}/{hall.code}/queues", headers=hall.h("display"))).json()[
        "queues"
    ]
    estate = next(q for q in queues if q["service"] == "estate")
    assert estate["waiting"] == 3 and estate["quota_left"] == 0 and estate["windows"] == [1, 2, 4]


async def test_one_open_ticket_per_person_and_no_pii_stored(
    client: httpx.AsyncClient, hall: Hall, app
) -> None:  # type: ignore[no-untyped-def]
    id_number = "11010519491231002X"
    phone = "13800138000"
    ticket = await issue(client, hall, id_number=id_number, phone=phone)
    again = await client.post(
        f"{API}/{hall.code}/tickets",
        json={"service": "business", "id_number": id_number.lower()},
        headers=hall.h("kiosk"),
    )
    assert_problem(again, 409, "duplicate_open_ticket")
    other_service = await issue(client, hall, "estate", id_number=id_number)
    assert other_service["number"] == "B001"
    async with app.state.sessionmaker() as session:
        row = (await session.execute(select(Ticket).where(Ticket.id == ticket["id"]))).scalar_one()
    stored = " ".join(str(v) for v in row.__dict__.values())
    assert id_number not in stored and id_number.lower() not in stored and phone not in stored
    assert row.person_hash and len(row.person_hash) == 64 and row.phone_tail == "8000"


async def test_window_refusals(client: httpx.AsyncClient, hall: Hall) -> None:
    await issue(client, hall)
    assert_problem(await act(client, hall, 1, "call-next"), 409, "window_closed")
    await act(client, hall, 1, "open")
    assert_problem(await act(client, hall, 1, "finish"), 409, "window_has_no_ticket")
    paused = await act(client, hall, 1, "pause", {"reason": "临时离岗"})
    assert paused.json()["window"]["pause_reason"] == "临时离岗"
    assert_problem(await act(client, hall, 1, "call-next"), 409, "window_paused")
    assert_problem(await act(client, hall, 1, "pause", {}), 422, "validation_error")
    await act(client, hall, 1, "resume")
    await act(client, hall, 4, "open")
    assert_problem(await act(client, hall, 4, "call-next"), 404, "queue_empty")
    assert_problem(await act(client, hall, 99, "open"), 404, "not_found")
    business = await issue(client, hall)
    assert_problem(
        await act(client, hall, 4, "call", {"ticket_id": business["id"], "reason": "x"}),
        409,
        "service_not_served",
    )
    await act(client, hall, 1, "call-next")
    assert_problem(await act(client, hall, 1, "close"), 409, "window_busy")
    taken = await act(client, hall, 2, "open")
    assert taken.status_code == 200
    first = (await client.get(f"{API}/{hall.code}/windows", headers=hall.h("display"))).json()[0]
    assert_problem(
        await act(
            client, hall, 2, "call", {"ticket_id": first["current_ticket_id"], "reason": "x"}
        ),
        409,
        "ticket_not_waiting",
    )


async def test_recall_limit_makes_no_show(client: httpx.AsyncClient, hall: Hall) -> None:
    ticket = await issue(client, hall)
    await act(client, hall, 1, "open")
    await act(client, hall, 1, "call-next")
    for expected in (1, 2, 3):
        recalled = await act(client, hall, 1, "recall")
        assert recalled.json()["ticket"]["recall_count"] == expected
    final = await act(client, hall, 1, "recall")
    assert final.json()["outcome"] == "no_show"
    assert final.json()["window"]["state"] == "idle"
    looked = await client.get(f"{API}/{hall.code}/tickets/{ticket['id']}", headers=hall.h("staff"))
    assert looked.json()["status"] == "no_show"


async def test_transfer_keeps_place_and_number(client: httpx.AsyncClient, hall: Hall) -> None:
    first = await issue(client, hall)  # A001
    await issue(client, hall, "estate")  # B001, queued after A001
    await act(client, hall, 3, "open")
    await act(client, hall, 3, "call-next")
    moved = await act(client, hall, 3, "transfer", {"service": "estate"})
    assert moved.status_code == 200, moved.text
    successor = moved.json()["ticket"]
    assert (
        successor["number"] == "A001"
        and successor["service"] == "estate"
        and successor["status"] == "waiting"
    )
    old = (
        await client.get(f"{API}/{hall.code}/tickets/{first['id']}", headers=hall.h("staff"))
    ).json()
    assert old["status"] == "transferred" and old["transferred_to"] == successor["id"]
    await act(client, hall, 4, "open")
    called = await act(client, hall, 4, "call-next")
    # A001 keeps its place by issue time, ahead of B001.
    assert called.json()["ticket"]["number"] == "A001"
    await act(client, hall, 2, "open")  # a closed window takes no transfer
    to_window = await act(client, hall, 4, "transfer", {"window": 2})
    target = to_window.json()["ticket"]
    assert target["target_window"] == 2
    await act(client, hall, 1, "open")
    assert (await act(client, hall, 1, "call-next")).json()["ticket"]["number"] == "B001"
    assert (await act(client, hall, 2, "call-next")).json()["ticket"]["number"] == "A001"


async def test_green_first_then_two_to_one(client: httpx.AsyncClient, hall: Hall) -> None:
    for _ in range(4):
        await issue(client, hall)  # A001..A004 normal
    for _ in range(3):
        await issue(client, hall, priority="priority", who="staff")  # A005..A007
    await issue(client, hall, priority="green", who="staff")  # A008 (the guide desk)
    await act(client, hall, 3, "open")
    order = []
    for _ in range(8):
        order.append((await act(client, hall, 3, "call-next")).json()["ticket"]["number"])
    assert order == ["A008", "A005", "A006", "A001", "A007", "A002", "A003", "A004"]


async def test_no_show_requeue_hall_rule(client: httpx.AsyncClient, app) -> None:  # type: ignore[no-untyped-def]
    import tempfile
    from pathlib import Path

    text = TEST_HALL.read_text(encoding="utf-8").replace(
        'no_show = "void"', 'no_show = "requeue"\nrequeue_places = 2'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False, encoding="utf-8") as f:
        f.write(text)
    hall = await seed_hall(app, client, Path(f.name))
    for _ in range(4):
        await issue(client, hall)
    await act(client, hall, 3, "open")
    await act(client, hall, 3, "call-next")  # A001
    first = await act(client, hall, 3, "no-show")
    assert first.json()["outcome"] == "requeued"
    order = [(await act(client, hall, 3, "call-next")).json()["ticket"]["number"] for _ in range(3)]
    assert order == ["A002", "A003", "A001"]
    second = await act(client, hall, 3, "no-show")  # A001 again: only once
    assert second.json()["outcome"] == "no_show"


async def test_call_next_finishes_ticket_in_hand(client: httpx.AsyncClient, hall: Hall) -> None:
    first = await issue(client, hall)
    second = await issue(client, hall)
    await act(client, hall, 1, "open")
    await act(client, hall, 1, "call-next")
    moved_on = await act(client, hall, 1, "call-next")
    assert moved_on.json()["ticket"]["number"] == second["number"]
    done = (
        await client.get(f"{API}/{hall.code}/tickets/{first['id']}", headers=hall.h("staff"))
    ).json()
    assert done["status"] == "done"
    empty = await act(client, hall, 1, "call-next")
    assert_problem(empty, 404, "queue_empty")
    # The ticket in hand was still finished: the window is free.
    second_now = (
        await client.get(f"{API}/{hall.code}/tickets/{second['id']}", headers=hall.h("staff"))
    ).json()
    assert second_now["status"] == "done"
    windows = (await client.get(f"{API}/{hall.code}/windows", headers=hall.h("display"))).json()
    assert windows[0]["state"] == "idle" and windows[0]["current_ticket"] is None


async def test_recall_and_no_show_refused_once_service_started(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    await issue(client, hall)
    await act(client, hall, 1, "open")
    await act(client, hall, 1, "call-next")
    await act(client, hall, 1, "start")
    assert_problem(await act(client, hall, 1, "recall"), 409, "invalid_ticket_state")
    assert_problem(await act(client, hall, 1, "no-show"), 409, "invalid_ticket_state")
    windows = (await client.get(f"{API}/{hall.code}/windows", headers=hall.h("display"))).json()
    assert windows[0]["state"] == "serving"
