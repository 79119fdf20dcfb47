"""前方还有N人 of a booked ticket is the same number for the partner as for the hall (issue #14).

A booking checked in becomes an appointment-class ticket: before its slot starts
it is called as a normal ticket, within its slot before normal tickets (after green
ones and favoured ones queued earlier). Its ahead must be
one number in the check-in answer, the hall's ``GET /tickets/{id}``, the public
status page, the partner API's live position and the ``ticket.near`` webhook. Each
check names the exact number, so a surface that counted differently (e.g. every
ticket queued before it) fails. Webhooks go to a receiver on 127.0.0.1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.engine.core.db import utcnow
from services.engine.partners.webhooks import WebhookWorker
from services.engine.tickets.models import Ticket
from tests.helpers.api import API, PAGE_LINE, WAIT_TEXT, act, issue, number_in
from tests.helpers.bookings import (
    ID_1,
    PartnerClient,
    Receiver,
    add_partner,
    book,
    webhook_receiver,
)
from tests.helpers.halls import Hall
from tests.helpers.net import local_path

ID_2 = "110105194912310037"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with webhook_receiver(monkeypatch) as state:
        yield state


@pytest.fixture
async def hooked(app: Any, client: httpx.AsyncClient, bhall: Hall, receiver: Receiver) -> Any:
    """A partner with a webhook, and a worker this test runs pass by pass."""
    # The app's own worker would derive and send on its own clock: this test drives one.
    await app.state.webhook_worker.stop()
    pid, key_id, secret = await add_partner(
        app, bhall.code, name="hooked", webhook_url=receiver.url
    )
    partner = PartnerClient(client, key_id, secret, bhall.code, pid)
    return partner, WebhookWorker(app.state.sessionmaker, app.state.settings)


async def shown(
    client: httpx.AsyncClient, hall: Hall, partner: PartnerClient, ticket: dict[str, Any]
) -> dict[str, int | None]:
    """The ahead of a booked ticket on the hall's, the public and the partner's surfaces."""
    got = await client.get(f"{API}/{hall.code}/tickets/{ticket['id']}", headers=hall.h("staff"))
    assert got.status_code == 200, got.text
    url = local_path(ticket["status_url"])
    page = await client.get(url)
    data = (await client.get(url + "&format=json")).json()
    position = await partner.get(f"/tickets/{ticket['id']}")
    assert position.status_code == 200, position.text
    live = position.json()
    assert live["status"] == "waiting" and live["window"] is None
    return {
        "GET ticket waiting_ahead": got.json()["waiting_ahead"],
        "GET ticket wait_text": number_in(WAIT_TEXT, got.json()["wait_text"]),
        "status page HTML": number_in(PAGE_LINE, page.text),
        "status page JSON": data["waiting_ahead"],
        "partner waiting_ahead": live["waiting_ahead"],
        "partner position - 1": live["position"] - 1,
        "partner message": number_in(re.compile(r"^前方还有(\d+)人$"), live["message"]),
    }


def everywhere(n: int) -> dict[str, int]:
    keys = ["GET ticket waiting_ahead", "GET ticket wait_text", "status page HTML"]
    keys += ["status page JSON", "partner waiting_ahead", "partner position - 1"]
    return dict.fromkeys([*keys, "partner message"], n)


def near_of(receiver: Receiver, ticket_id: int) -> dict[str, Any]:
    """The one ticket.near notice the partner got for this ticket."""
    (near,) = [
        m["data"] for m in receiver.messages("ticket.near") if m["data"]["ticket_id"] == ticket_id
    ]
    return near


async def slot_begins(app: Any, ticket_id: int) -> None:
    """Time passes: the booked ticket's slot has begun (its start moved to a minute ago)."""
    async with app.state.sessionmaker() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.slot_starts_at is not None
        ticket.slot_starts_at = utcnow() - timedelta(minutes=1)
        await session.commit()


async def calls(client: httpx.AsyncClient, hall: Hall, n: int) -> list[int]:
    """Window 1 opens and calls (and finishes) ``n`` tickets: their ids in call order."""
    assert (await act(client, hall, 1, "open", who="staff")).status_code == 200
    order = []
    for _ in range(n):
        called = await act(client, hall, 1, "call-next")
        assert called.status_code == 200, called.text
        order.append(called.json()["ticket"]["id"])
        assert (await act(client, hall, 1, "finish")).status_code == 200
    return order


async def test_an_appointment_checked_in_before_its_slot_waits_as_normal_everywhere(
    client: httpx.AsyncClient, bhall: Hall, hooked: Any, receiver: Receiver
) -> None:
    partner, worker = hooked
    walk_ins = [await issue(client, bhall) for _ in range(2)]
    booking = await book(partner, ID_1)  # its slot starts after now: checked in early
    checked_in = await partner.post(f"/bookings/{booking['code']}/check-in")
    assert checked_in.status_code == 201, checked_in.text
    ticket = checked_in.json()["ticket"]
    assert ticket["priority"] == "appointment" and ticket["number"] == "A003"
    # Until its slot starts it is called as a normal ticket: both walk-ins go first.
    assert ticket["waiting_ahead"] == 2
    assert await shown(client, bhall, partner, ticket) == everywhere(2)

    stats = await worker.run_once(now=utcnow())
    assert (stats.derived, stats.delivered) == (1, 1)  # 2 <= notify_places_ahead (2)
    near = near_of(receiver, ticket["id"])
    assert (near["waiting_ahead"], near["message"]) == (2, "前方还有2人")
    assert near["booking_code"] == booking["code"]
    # And it is true.
    assert await calls(client, bhall, 3) == [*(w["id"] for w in walk_ins), ticket["id"]]


async def test_within_its_slot_an_appointment_goes_before_normal_tickets_everywhere(
    app: Any, client: httpx.AsyncClient, bhall: Hall, hooked: Any, receiver: Receiver
) -> None:
    partner, worker = hooked
    for _ in range(3):
        await issue(client, bhall)
    green = await issue(client, bhall, who="staff", priority="green")
    favoured = await issue(client, bhall, who="staff", priority="priority")
    assert (green["waiting_ahead"], favoured["waiting_ahead"]) == (0, 1)
    booking = await book(partner, ID_2)
    # Checked in at the kiosk (by its code): the answer is what the kiosk prints.
    checked_in = await client.post(
        f"{API}/{bhall.code}/bookings/check-in",
        json={"code": booking["code"]},
        headers=bhall.h("kiosk"),
    )
    assert checked_in.status_code == 201, checked_in.text
    ticket = checked_in.json()["ticket"]
    # Early: a normal ticket behind the green, the priority and the three normal ones.
    assert ticket["priority"] == "appointment" and ticket["waiting_ahead"] == 5
    assert await shown(client, bhall, partner, ticket) == everywhere(5)

    await slot_begins(app, ticket["id"])
    # Within its slot it is favoured: only the green and the priority ticket go first.
    assert await shown(client, bhall, partner, ticket) == everywhere(2)
    # A normal ticket taken now goes behind all three favoured tickets and the normal
    # ones; the appointment's place does not change.
    later = await issue(client, bhall)
    assert later["waiting_ahead"] == 6
    assert await shown(client, bhall, partner, ticket) == everywhere(2)

    stats = await worker.run_once(now=utcnow())
    assert (stats.derived, stats.delivered) == (1, 1)  # 2 <= notify_places_ahead (2)
    near = near_of(receiver, ticket["id"])
    assert (near["waiting_ahead"], near["message"]) == (2, "前方还有2人")
    # And it is true: green, priority, then the appointment.
    assert (await calls(client, bhall, 3))[:3] == [green["id"], favoured["id"], ticket["id"]]
