"""前方还有N人 is one number everywhere (issue #14).

A waiting ticket's "ahead" is how many waiting tickets of its service will be called
before it (tickets/ahead.py). The issue answer, the ticket looked up by id and by
number, the ``ticket.issued`` event, the public status page behind the QR code (HTML
and JSON) and the kiosk slip all show that one number; and it is true: the windows
call exactly that many tickets before it. Every check names the exact number, so a
surface that counted differently (e.g. every ticket queued before it) fails.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from drivers.simulators.printer import SimulatedPrinter
from kiosk_client.kiosk import Kiosk
from services.engine.events.models import HallEvent
from tests.helpers.api import API, PAGE_LINE, WAIT_TEXT, act, issue, number_in
from tests.helpers.halls import Hall
from tests.helpers.kiosk import running_kiosk, simulated_printer
from tests.helpers.net import local_path

# What the kiosk slip says, read back as a number (the others: tests.helpers.api).
SLIP_LINE = re.compile(r"^前方还有 (\d+) 人$")


def answered(ticket: dict[str, Any]) -> dict[str, int | None]:
    """The ahead of an issue (or look-up) answer: its field and its sentence."""
    return {
        "waiting_ahead": ticket["waiting_ahead"],
        "wait_text": number_in(WAIT_TEXT, ticket["wait_text"]),
    }


async def shown(
    client: httpx.AsyncClient, hall: Hall, ticket: dict[str, Any], app: Any
) -> dict[str, int | None]:
    """The ahead of one ticket on every surface that reads it afresh (and its event)."""
    out: dict[str, int | None] = {}
    got = await client.get(f"{API}/{hall.code}/tickets/{ticket['id']}", headers=hall.h("staff"))
    assert got.status_code == 200, got.text
    for key, value in answered(got.json()).items():
        out[f"GET ticket {key}"] = value
    # The kiosk's reprint search (补打) finds the ticket by its number.
    found = await client.get(
        f"{API}/{hall.code}/tickets",
        params={"number": ticket["number"]},
        headers=hall.h("kiosk"),
    )
    (by_number,) = [t for t in found.json()["tickets"] if t["id"] == ticket["id"]]
    for key, value in answered(by_number).items():
        out[f"by number {key}"] = value
    # The public status page behind the QR code, without any token.
    url = local_path(ticket["status_url"])
    page = await client.get(url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    out["status page HTML"] = number_in(PAGE_LINE, page.text)
    as_json = await client.get(url + "&format=json")
    assert as_json.status_code == 200, as_json.text
    out["status page ?format=json"] = as_json.json()["waiting_ahead"]
    accepted = await client.get(url, headers={"Accept": "application/json"})
    assert accepted.headers["content-type"].startswith("application/json")
    out["status page Accept: json"] = accepted.json()["waiting_ahead"]
    # What the hall's event said when it was issued (displays, partners' worker).
    async with app.state.sessionmaker() as session:
        payloads = (
            (
                await session.execute(
                    select(HallEvent.payload).where(HallEvent.type == "ticket.issued")
                )
            )
            .scalars()
            .all()
        )
    (issued,) = [p for p in payloads if p["ticket_id"] == ticket["id"]]
    out["ticket.issued event"] = issued["waiting_ahead"]
    return out


def everywhere(n: int) -> dict[str, int]:
    surfaces = ["GET ticket", "by number"]
    keys = [f"{s} {k}" for s in surfaces for k in ("waiting_ahead", "wait_text")]
    keys += ["status page HTML", "status page ?format=json", "status page Accept: json"]
    return dict.fromkeys([*keys, "ticket.issued event"], n)


async def now_ahead(client: httpx.AsyncClient, hall: Hall, ticket_id: int) -> int | None:
    got = await client.get(f"{API}/{hall.code}/tickets/{ticket_id}", headers=hall.h("staff"))
    value: int | None = got.json()["waiting_ahead"]
    return value


async def test_a_green_ticket_behind_normal_ones_has_none_ahead_on_every_surface(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    normals = [await issue(client, hall) for _ in range(4)]
    assert [answered(t) for t in normals] == [
        {"waiting_ahead": n, "wait_text": n} for n in range(4)
    ]
    # 绿色通道: given at the staff desk (any caller that may issue may ask for it).
    green = await issue(client, hall, who="staff", priority="green")
    assert green["priority"] == "green" and green["status"] == "waiting"
    assert green["wait_text"].startswith("前方还有 0 人")
    assert answered(green) == {"waiting_ahead": 0, "wait_text": 0}
    assert await shown(client, hall, green, app) == everywhere(0)

    # The queue overview says where a normal ticket taken now would stand ...
    queues = (await client.get(f"{API}/{hall.code}/queues", headers=hall.h("kiosk"))).json()
    (business,) = [q for q in queues["queues"] if q["service"] == "business"]
    assert business["waiting"] == 5 and number_in(WAIT_TEXT, business["wait_text"]) == 5
    # ... and one taken after the green ticket has all five ahead of it, everywhere.
    later = await issue(client, hall)
    assert answered(later) == {"waiting_ahead": 5, "wait_text": 5}
    assert later["wait_text"].startswith("前方还有 5 人")
    assert await shown(client, hall, later, app) == everywhere(5)
    # A ticket queued after it does not move the green one back.
    assert (await shown(client, hall, green, app))["GET ticket waiting_ahead"] == 0

    # The numbers are true: the window calls the green ticket first, then the normal
    # ones in their order; before each call the later ticket's ahead is exactly the
    # count of calls still to come before it.
    assert (await act(client, hall, 3, "open")).status_code == 200
    order: list[int] = []
    later_ahead: list[int | None] = []
    while not order or order[-1] != later["id"]:
        assert len(order) < 6, f"called {order}, still not the later ticket"
        later_ahead.append(await now_ahead(client, hall, later["id"]))
        called = await act(client, hall, 3, "call-next")
        assert called.status_code == 200, called.text
        order.append(called.json()["ticket"]["id"])
        assert (await act(client, hall, 3, "finish")).status_code == 200
    assert order == [green["id"], *(t["id"] for t in normals), later["id"]]
    assert later_ahead == [5, 4, 3, 2, 1, 0]


# ---------------------------------------------------------------------- the kiosk slip


@pytest.fixture
def slip_printer(tmp_path: Path) -> Iterator[SimulatedPrinter]:
    with simulated_printer(tmp_path) as printer:
        yield printer


@pytest.fixture
async def kiosk(
    app: Any, hall: Hall, tmp_path: Path, slip_printer: SimulatedPrinter
) -> AsyncIterator[Kiosk]:
    """The kiosk program's core (kiosk_client.kiosk), talking to this engine app."""
    async with running_kiosk(app, hall, tmp_path) as kiosk:
        yield kiosk


def printed_ahead(printer: SimulatedPrinter, number: str) -> list[list[int]]:
    """The 前方还有N人 lines of each slip printed for this number, in print order."""
    return [
        [int(m.group(1)) for line in t.text if (m := SLIP_LINE.match(line))]
        for t in printer.tickets
        if number in t.text
    ]


async def test_the_kiosk_slip_prints_the_engines_ahead(
    app: Any,
    client: httpx.AsyncClient,
    hall: Hall,
    kiosk: Kiosk,
    slip_printer: SimulatedPrinter,
) -> None:
    taken = [await kiosk.take_ticket("business") for _ in range(4)]
    assert [r["ok"] and r["ticket"]["printed"] for r in taken] == [True] * 4
    assert slip_printer.wait_for(lambda: len(slip_printer.tickets) == 4)
    assert [printed_ahead(slip_printer, r["ticket"]["number"]) for r in taken] == [
        [[n]] for n in range(4)
    ]

    # The kiosk takes normal tickets only: the green one is given at the desk and its
    # slip printed by the kiosk's reprint (补打), from the engine's answer.
    green = await issue(client, hall, who="staff", priority="green")
    assert green["waiting_ahead"] == 0
    reprinted = await kiosk.reprint(green["number"])
    assert reprinted["ok"], reprinted
    assert slip_printer.wait_for(lambda: len(slip_printer.tickets) == 5)
    assert printed_ahead(slip_printer, green["number"]) == [[0]]
    assert "补打" in slip_printer.tickets[-1].text

    # A normal ticket taken at the kiosk after it: five ahead on the slip, on the
    # kiosk's screen and in the engine.
    after = await kiosk.take_ticket("business")
    assert after["ok"] and after["ticket"]["printed"], after
    assert after["ticket"]["waiting_ahead"] == 5
    assert slip_printer.wait_for(lambda: len(slip_printer.tickets) == 6)
    assert printed_ahead(slip_printer, after["ticket"]["number"]) == [[5]]
    found = await client.get(
        f"{API}/{hall.code}/tickets",
        params={"number": after["ticket"]["number"]},
        headers=hall.h("kiosk"),
    )
    (engine_view,) = found.json()["tickets"]
    assert await shown(client, hall, engine_view, app) == everywhere(5)
