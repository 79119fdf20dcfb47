"""Ratings from evaluation pads through the API on both databases.

A pad has only its level keys: its 差评 is stored as given, with no reason at all and
marked ``reason_missing``; nobody else may use that exemption.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from services.engine.events.models import HallEvent
from tests.helpers.api import API, act, issue
from tests.helpers.halls import Hall


async def finished_ticket(client: httpx.AsyncClient, hall: Hall, window: int = 1) -> dict[str, Any]:
    ticket = await issue(client, hall)
    for action in ("open", "call-next", "finish"):
        response = await act(client, hall, window, action, who="gateway")
        assert response.status_code == 200, response.text
    return ticket


async def rate(
    client: httpx.AsyncClient, hall: Hall, ticket_id: int, who: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{API}/{hall.code}/tickets/{ticket_id}/evaluation", json=body, headers=hall.h(who)
    )


async def test_pad_bad_rating_is_kept_without_inventing_a_reason(
    client: httpx.AsyncClient, hall: Hall, app: Any
) -> None:
    ticket = await finished_ticket(client, hall)
    # Without the pad marker the national rule stands: a 差评 needs a reason.
    bare = await rate(client, hall, ticket["id"], "gateway", level=1)
    assert bare.status_code == 422 and bare.json()["code"] == "rating_needs_reason"
    # A kiosk has a touch screen and can ask for reasons: no exemption for it.
    kiosk = await rate(client, hall, ticket["id"], "kiosk", level=1, from_pad=True)
    assert kiosk.status_code == 403 and kiosk.json()["code"] == "forbidden"

    pad = await rate(client, hall, ticket["id"], "gateway", level=1, from_pad=True)
    assert pad.status_code == 201, pad.text
    body = pad.json()
    assert (body["level"], body["reasons"], body["comment"]) == (1, [], None)
    assert body["reason_missing"] is True and body["channel"] == "gateway"
    assert body["window"] == 1

    stored = await client.get(
        f"{API}/{hall.code}/tickets/{ticket['id']}/evaluation", headers=hall.h("manager")
    )
    assert stored.status_code == 200
    assert {k: stored.json()[k] for k in ("level", "reasons", "reason_missing", "channel")} == {
        "level": 1,
        "reasons": [],
        "reason_missing": True,
        "channel": "gateway",
    }
    async with app.state.sessionmaker() as session:
        payloads = (
            (
                await session.execute(
                    select(HallEvent.payload).where(HallEvent.type == "rating.recorded")
                )
            )
            .scalars()
            .all()
        )
    assert [(p["ticket_id"], p["level"], p["reason_missing"]) for p in payloads] == [
        (ticket["id"], 1, True)
    ]
    again = await rate(client, hall, ticket["id"], "gateway", level=5, from_pad=True)
    assert again.status_code == 409 and again.json()["code"] == "already_rated"


async def test_good_and_reasoned_ratings_are_not_marked(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    good = await finished_ticket(client, hall)
    response = await rate(client, hall, good["id"], "gateway", level=5, from_pad=True)
    assert response.status_code == 201 and response.json()["reason_missing"] is False
    reasoned = await finished_ticket(client, hall)
    response = await rate(client, hall, reasoned["id"], "kiosk", level=2, reasons=["等候时间长"])
    assert response.status_code == 201
    assert response.json()["reason_missing"] is False and response.json()["channel"] == "kiosk"


async def test_reading_a_rating(client: httpx.AsyncClient, hall: Hall) -> None:
    ticket = await finished_ticket(client, hall)
    url = f"{API}/{hall.code}/tickets/{ticket['id']}/evaluation"
    unrated = await client.get(url, headers=hall.h("staff"))
    assert unrated.status_code == 404 and unrated.json()["code"] == "not_found"
    assert "未评价" in unrated.json()["detail"]
    assert (
        await rate(client, hall, ticket["id"], "gateway", level=4, from_pad=True)
    ).status_code == 201
    for who in ("admin", "manager", "staff", "gateway", "kiosk"):
        response = await client.get(url, headers=hall.h(who))
        assert response.status_code == 200 and response.json()["level"] == 4, who
    # Hall screens are public: they never read ratings.
    assert (await client.get(url, headers=hall.h("display"))).status_code == 403
    assert (await client.get(url)).status_code == 401
