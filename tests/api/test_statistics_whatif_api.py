"""The advice checked by the simulator and the replay of a past day, over the API (#19):
a small day at the test hall (tests/helpers/hallday.py) read back, what-ifs refused with
their codes, managers and administrators only. Both databases."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.helpers.api import API, assert_problem
from tests.helpers.hallday import a_small_day
from tests.helpers.halls import Hall
from tests.helpers.regions import DISTRICT, TOWN_A, TOWN_B, place, put_region, region_admin


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def check(client: httpx.AsyncClient, hall: Hall, who: str = "manager", **params: object):
    query = {"from": today().isoformat(), "to": today().isoformat(), "seeds": 2, **params}
    return await client.get(
        f"{API}/{hall.code}/stats/advice/check", params=query, headers=hall.h(who)
    )


async def replay(
    client: httpx.AsyncClient, hall: Hall, body: dict[str, Any], who: str = "manager"
) -> httpx.Response:
    return await client.post(
        f"{API}/{hall.code}/stats/replay",
        json={"day": today().isoformat(), **body},
        headers=hall.h(who),
    )


async def test_the_advice_checked_by_the_simulator(client: httpx.AsyncClient, hall: Hall) -> None:
    await a_small_day(client, hall)
    # The day simulated is today's weekday (a typical Monday-Friday may hold none of it).
    response = await check(client, hall, weekday=today().weekday())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tickets"] == 4 and body["days"] == 1
    assert body["sessions"] == ["00:00-24:00"]
    learned = {s["service"]: s for s in body["services"]}
    assert set(learned) == {"business", "estate"}
    assert learned["business"]["tickets"] == 3 and learned["business"]["own_windows"] == 3
    assert not learned["business"]["handle_from_history"]
    assert learned["estate"]["no_show_rate"] == 1.0
    assert body["today"]["name"] == "today" and body["today"]["windows"] == 4
    assert body["today"]["seeds"] == [1, 2]
    advice = body["advice"]
    assert advice["windows"] == sum(max(h["windows"] for h in s["hours"]) for s in learned.values())
    assert [h["advice"] for h in body["hours"]] == [
        sum(h["windows"] for s in learned.values() for h in s["hours"] if h["hour"] == hour)
        for hour in [h["hour"] for h in body["hours"]]
    ]
    assert all(h["today"] == 4 for h in body["hours"])
    # Who may ask, and what is refused.
    assert (await check(client, hall, who="admin")).status_code == 200
    for who in ("staff", "kiosk", "display"):
        assert (await check(client, hall, who=who)).status_code == 403, who
    assert_problem(await check(client, hall, seeds=0), 422, "validation_error")
    assert_problem(await check(client, hall, weekday=7), 422, "validation_error")
    backwards = await check(client, hall, **{"to": "2000-01-01"})
    assert_problem(backwards, 422, "validation_error")


async def test_replay_of_the_day_and_a_what_if(client: httpx.AsyncClient, hall: Hall) -> None:
    await a_small_day(client, hall)
    response = await replay(client, hall, {})
    assert response.status_code == 200, response.text
    body = response.json()
    # A001 (held and called back), A002 and B001 (did not come) were called; A003 was not.
    assert body["tickets"] == 3 and body["left_out"] == {"cancelled": 1}
    assert body["service_names"]["estate"] == "不动产登记"
    assert body["real"]["overall"]["called"] == 3
    assert body["same"]["overall"]["called"] == 3
    windows = {w["number"]: w for w in body["same"]["windows"]}
    # Windows 1 and 4 opened that day (and were not closed); 2 and 3 never did.
    assert windows[1]["open_hours"] and windows[4]["open_hours"]
    assert windows[2]["open_hours"] == [] and windows[3]["open_hours"] == []
    # What if window 4 had been closed and window 3 had served estate too?
    what_if = await replay(
        client,
        hall,
        {
            "policy": "fifo",
            "windows": [
                {"number": 4, "closed": True},
                {
                    "number": 3,
                    "services": {"business": 1.0, "estate": 1.0},
                    "open_hours": ["00:00-24:00"],
                },
            ],
            "handling": "drawn",
            "seeds": 3,
        },
    )
    assert what_if.status_code == 200, what_if.text
    run = what_if.json()["what_if"]
    assert run["policy"] == "fifo" and run["seeds"] == [1, 2, 3]
    assert run["overall"]["tickets"] == 9
    changed = {w["number"]: w for w in run["windows"] if w["changed"]}
    assert changed[4]["open_hours"] == [] and changed[3]["services"] == {
        "business": 1.0,
        "estate": 1.0,
    }
    assert (await replay(client, hall, {}, who="admin")).status_code == 200


async def test_a_bad_what_if_is_refused_with_a_clear_code(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    await a_small_day(client, hall)
    for who in ("staff", "kiosk", "gateway", "display"):
        assert (await replay(client, hall, {}, who=who)).status_code == 403, who
    unknown = await replay(client, hall, {"windows": [{"number": 1, "services": {"passport": 1}}]})
    assert_problem(unknown, 422, "replay_unknown_service")
    no_window = await replay(client, hall, {"windows": [{"number": 9, "closed": True}]})
    assert_problem(no_window, 422, "replay_unknown_window")
    bare = await replay(client, hall, {"windows": [{"number": 9}]})
    assert_problem(bare, 422, "replay_window_without_services")
    hours = await replay(client, hall, {"windows": [{"number": 1, "open_hours": ["8-12"]}]})
    assert_problem(hours, 422, "replay_hours_invalid")
    twice = await replay(client, hall, {"windows": [{"number": 1}, {"number": 1}]})
    assert_problem(twice, 422, "replay_window_repeated")
    # Estate's only windows that day were 1 and 4: without them nobody calls B001.
    closed = [{"number": n, "closed": True} for n in (1, 4)]
    assert_problem(await replay(client, hall, {"windows": closed}), 422, "replay_service_unserved")
    empty = await replay(client, hall, {"day": "2001-01-01"})
    assert_problem(empty, 422, "replay_empty_day")
    assert_problem(await replay(client, hall, {"policy": "random"}), 422, "validation_error")
    assert_problem(await replay(client, hall, {"seeds": 99}), 422, "validation_error")
    assert_problem(await replay(client, hall, {"extra": 1}), 422, "validation_error")
    weights = await replay(client, hall, {"windows": [{"number": 1, "services": {"business": 0}}]})
    assert_problem(weights, 422, "replay_invalid")


async def test_a_region_admin_reads_the_advice_of_the_halls_below_only(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    """The district administrator gets the advice, checked by the simulator, and may try a
    what-if (it changes nothing in the hall); a neighbouring region's admin may not."""
    await a_small_day(client, hall)
    await put_region(app, DISTRICT, "西湖区")
    await put_region(app, TOWN_A, "北山街道", DISTRICT)
    await put_region(app, TOWN_B, "西溪街道", DISTRICT)
    await place(app, hall.code, TOWN_A)
    district = await region_admin(app, "district.admin", DISTRICT)
    neighbour = await region_admin(app, "town.b.admin", TOWN_B)
    query = {"from": today().isoformat(), "to": today().isoformat(), "seeds": 2}
    query["weekday"] = today().weekday()
    url = f"{API}/{hall.code}/stats/advice/check"
    advice = await client.get(url, params=query, headers=district)
    assert advice.status_code == 200, advice.text
    assert advice.json()["tickets"] == 4 and advice.json()["hours"]
    what_if = await client.post(
        f"{API}/{hall.code}/stats/replay", json={"day": today().isoformat()}, headers=district
    )
    assert what_if.status_code == 200, what_if.text
    assert (await client.get(url, params=query, headers=neighbour)).status_code == 403
