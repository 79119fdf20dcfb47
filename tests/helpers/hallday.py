"""A small day at the test hall, through the API: what the statistics tests read back."""

from __future__ import annotations

import httpx

from tests.helpers.api import API, act, issue
from tests.helpers.halls import Hall


async def a_small_day(client: httpx.AsyncClient, hall: Hall) -> None:
    """Four tickets: at window 1 the clerk holds A001, serves A002 (办结) and calls A001
    back (一次性告知); B001 does not come to window 4; A003 is cancelled."""
    a1, a2, a3 = [await issue(client, hall) for _ in range(3)]
    await issue(client, hall, "estate")
    # Window 1: the clerk signs in, holds A001 for its papers, serves A002, calls A001 back.
    for step, body in (
        ("sign-in", None),
        ("open", None),
        ("call-next", None),
        ("hold", {"kind": "missing_documents"}),
        ("call-next", None),
        ("finish", {"outcome": "done"}),
        ("call-back", None),
        ("finish", {"outcome": "told_missing"}),
    ):
        response = await act(client, hall, 1, step, body, who="staff")
        assert response.status_code == 200, (step, response.text)
    # Window 4 (estate only): B001 does not come.
    for step in ("open", "call-next", "no-show"):
        assert (await act(client, hall, 4, step)).status_code == 200
    cancelled = await client.post(
        f"{API}/{hall.code}/tickets/{a3['id']}/cancel", json={}, headers=hall.h("staff")
    )
    assert cancelled.status_code == 200, cancelled.text
    assert {a1["number"], a2["number"]} == {"A001", "A002"}
