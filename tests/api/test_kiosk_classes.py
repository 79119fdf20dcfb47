"""Which classes of ticket a kiosk may issue is the hall's to say.

By default a kiosk (自助取号机) issues normal tickets only: green-channel and priority
tickets are given by staff at the guide desk (导办台), who see the citizen. A hall may
let its kiosks offer priority (or green) tickets (``[hall.rules] kiosk_classes``).
Anything else is 403 ``priority_not_allowed``, and takes no number.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.api import API, assert_problem, issue
from tests.helpers.halls import TEST_HALL, Hall, seed_hall


async def issue_as(
    client: httpx.AsyncClient, hall: Hall, who: str, priority: str
) -> httpx.Response:
    return await client.post(
        f"{API}/{hall.code}/tickets",
        json={"service": "business", "priority": priority},
        headers=hall.h(who),
    )


async def test_a_kiosk_issues_normal_tickets_only_by_default(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    first = await issue(client, hall)  # A001, normal, from a kiosk
    for priority in ("green", "priority", "appointment"):
        refused = assert_problem(
            await issue_as(client, hall, "kiosk", priority), 403, "priority_not_allowed"
        )
        assert refused["priority"] == priority and "导办台" in refused["detail"], refused
    # Staff at the guide desk give them; the refusals took no number.
    green = await issue(client, hall, priority="green", who="staff")
    favoured = await issue(client, hall, priority="priority", who="manager")
    assert [first["number"], green["number"], favoured["number"]] == ["A001", "A002", "A003"]
    assert (green["priority"], green["source"]) == ("green", "staff")


async def test_a_hall_may_let_its_kiosks_issue_priority_tickets(
    app: Any, client: httpx.AsyncClient, tmp_path: Any
) -> None:
    text = TEST_HALL.read_text(encoding="utf-8").replace(
        "[hall.rules]\n", '[hall.rules]\nkiosk_classes = ["normal", "priority"]\n'
    )
    assert "kiosk_classes" in text
    path = tmp_path / "hall.toml"
    path.write_text(text, encoding="utf-8")
    hall = await seed_hall(app, client, path)
    favoured = await issue(client, hall, priority="priority")
    assert (favoured["priority"], favoured["source"]) == ("priority", "kiosk")
    assert_problem(await issue_as(client, hall, "kiosk", "green"), 403, "priority_not_allowed")
    assert (await issue_as(client, hall, "kiosk", "normal")).status_code == 201
