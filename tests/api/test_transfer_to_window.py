"""A ticket transferred to a window is called there, or goes back to its queue.

A closed window calls nobody, so a ticket sent to it would wait for ever (the status
page saying 等候中, 前方还有0人): a transfer to a closed window is refused
(``window_closed``), and a window that closes sends the tickets waiting for it back
to their service's queue, each at the place it had, with a ``ticket.returned`` event
and a log row.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from services.engine.events.models import HallEvent
from services.engine.tickets.models import TicketEvent
from tests.helpers.api import API, act, assert_problem, issue
from tests.helpers.halls import Hall


async def ticket(client: httpx.AsyncClient, hall: Hall, ticket_id: int) -> dict[str, Any]:
    response = await client.get(f"{API}/{hall.code}/tickets/{ticket_id}", headers=hall.h("staff"))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def window(client: httpx.AsyncClient, hall: Hall, number: int) -> dict[str, Any]:
    response = await client.get(f"{API}/{hall.code}/windows", headers=hall.h("staff"))
    assert response.status_code == 200, response.text
    (found,) = [w for w in response.json() if w["number"] == number]
    return found


async def test_a_transfer_to_a_closed_window_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    first = await issue(client, hall)  # A001
    await act(client, hall, 3, "open")
    await act(client, hall, 3, "call-next")
    # Window 2 has never been opened; window 1 (below window 3: locked first) too.
    for closed in (2, 1):
        refused = await act(client, hall, 3, "transfer", {"window": closed})
        assert_problem(refused, 409, "window_closed")
    assert (await ticket(client, hall, first["id"]))["status"] == "called"
    still = await window(client, hall, 3)
    assert still["state"] == "calling" and still["current_ticket_id"] == first["id"], still
    # Opened, it takes the transfer.
    await act(client, hall, 1, "open")
    moved = await act(client, hall, 3, "transfer", {"window": 1})
    assert moved.status_code == 200, moved.text
    assert moved.json()["ticket"]["target_window"] == 1
    assert (await act(client, hall, 1, "call-next")).json()["ticket"]["number"] == "A001"


async def test_closing_a_window_returns_its_transfers_to_their_place(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    a1 = await issue(client, hall)  # A001
    await issue(client, hall)  # A002
    await act(client, hall, 3, "open")
    await act(client, hall, 3, "call-next")  # A001
    await act(client, hall, 2, "open")
    moved = await act(client, hall, 3, "transfer", {"window": 2})
    assert moved.status_code == 200, moved.text
    sent = moved.json()["ticket"]
    assert sent["target_window"] == 2 and sent["number"] == "A001"
    a3 = await issue(client, hall)  # A003, after both
    closed = await act(client, hall, 2, "close")
    assert closed.status_code == 200, closed.text
    returned = await ticket(client, hall, sent["id"])
    assert returned["status"] == "waiting" and returned["target_window"] is None, returned
    # Back at its place: first in its queue (it was queued when A001 was issued).
    assert returned["waiting_ahead"] == 0, returned
    assert (await ticket(client, hall, a3["id"]))["waiting_ahead"] == 2
    async with app.state.sessionmaker() as session:
        events = (
            await session.execute(
                select(HallEvent.type, HallEvent.payload).order_by(HallEvent.hall_id, HallEvent.seq)
            )
        ).all()
        log = (
            await session.execute(
                select(TicketEvent.action, TicketEvent.from_status, TicketEvent.to_status)
                .where(TicketEvent.ticket_id == sent["id"])
                .order_by(TicketEvent.id)
            )
        ).all()
    (returned_event,) = [payload for kind, payload in events if kind == "ticket.returned"]
    assert returned_event["ticket_id"] == sent["id"] and returned_event["from_window"] == 2
    assert returned_event["number"] == "A001" and returned_event["status"] == "waiting"
    assert [tuple(row) for row in log] == [
        ("transfer", None, "waiting"),
        ("return", "waiting", "waiting"),
    ]
    # Any window of the service calls it, before A002 and A003.
    await act(client, hall, 1, "open")
    called = [(await act(client, hall, 1, "call-next")).json()["ticket"]["id"] for _ in range(3)]
    assert called[0] == sent["id"] and called[2] == a3["id"]
    assert a1["id"] != sent["id"]  # the successor, not the transferred original


async def test_closing_a_window_leaves_other_windows_transfers_alone(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    await issue(client, hall)  # A001
    await act(client, hall, 3, "open")
    await act(client, hall, 3, "call-next")
    await act(client, hall, 1, "open")
    await act(client, hall, 2, "open")
    sent = (await act(client, hall, 3, "transfer", {"window": 1})).json()["ticket"]
    assert (await act(client, hall, 2, "close")).status_code == 200
    assert (await ticket(client, hall, sent["id"]))["target_window"] == 1
    # A window holding a ticket cannot close: nothing is returned either.
    await act(client, hall, 1, "call-next")
    assert_problem(await act(client, hall, 1, "close"), 409, "window_busy")
