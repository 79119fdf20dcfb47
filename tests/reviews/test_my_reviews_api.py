"""我的评价 through the API on both databases: a clerk reads their own ratings and bad
reviews only once the citizen has gone (reviews/visibility.py), never the citizen's
phone or the managers' notes, and appeals a case, which the manager then sees."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.engine.core.db import utcnow
from services.engine.reviews import staff
from tests.helpers.api import API, act, assert_problem
from tests.helpers.halls import Hall
from tests.reviews.test_reviews_api import PHONE, cases, finished, rate_url


def later(monkeypatch: pytest.MonkeyPatch, minutes: float) -> None:
    """The staff view's clock, ``minutes`` from now (the rule reads nothing else)."""
    monkeypatch.setattr(staff, "utcnow", lambda: utcnow() + timedelta(minutes=minutes))


async def mine(client: httpx.AsyncClient, hall: Hall, what: str = "") -> Any:
    response = await client.get(f"{API}/{hall.code}/reviews/mine{what}", headers=hall.h("staff"))
    assert response.status_code == 200, response.text
    assert PHONE not in response.text and "callback" not in response.text
    return response.json()


async def test_a_clerk_sees_their_ratings_once_the_citizen_is_gone_and_appeals(
    app: Any, client: httpx.AsyncClient, hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    await act(client, hall, 1, "sign-in", who="staff")
    good, bad, unrated = [await finished(client, hall) for _ in range(3)]
    # Window 2's work (nobody signed in there) is not this clerk's.
    other = await finished(client, hall, window=2)
    headers = hall.h("gateway")
    for ticket_id, level in ((good, 5), (other, 1)):
        body = {"level": level, "comment": "别人的差评"} if level == 1 else {"level": level}
        r = await client.post(
            f"{API}/{hall.code}/tickets/{ticket_id}/evaluation", json=body, headers=headers
        )
        assert r.status_code == 201, r.text
    r = await client.post(
        rate_url(app, hall, bad),
        json={
            "level": 2,
            "reasons": ["等候时间长"],
            "comment": "等了很久",
            "callback_phone": PHONE,
        },
    )
    assert r.status_code == 201, r.text
    case = next(c for c in await cases(client, hall) if c["ticket_id"] == bad)

    # The citizen may still be there: nothing shown but how many wait, no level.
    now = await mine(client, hall, "/ratings")
    assert now["held_back"] == 2 and now["ratings"] == [] and now["good_percent"] is None
    assert now["levels"] == {"5": 0, "4": 0, "3": 0, "2": 0, "1": 0}
    assert now["delay_minutes"] == 30
    assert await mine(client, hall) == []
    # Nor may the clerk appeal what the page does not show yet.
    appeal_url = f"{API}/{hall.code}/reviews/cases/{case['id']}/appeal"
    assert_problem(
        await client.post(appeal_url, json={"reason": "误评"}, headers=hall.h("staff")),
        404,
        "not_found",
    )
    later(monkeypatch, 29)
    assert (await mine(client, hall, "/ratings"))["held_back"] == 2

    # Half an hour after both 办结 and the rating: shown, newest first.
    later(monkeypatch, 31)
    shown = await mine(client, hall, "/ratings")
    assert shown["held_back"] == 0
    assert [(x["ticket_id"], x["level"]) for x in shown["ratings"]] == [(bad, 2), (good, 5)]
    assert shown["levels"] == {"5": 1, "4": 0, "3": 0, "2": 1, "1": 0}
    # 好评率 = ratings of level 3-5 / ratings = 1 / 2.
    assert shown["good_percent"] == "50.00"
    first = shown["ratings"][0]
    assert first["comment"] == "等了很久" and first["reasons"] == ["等候时间长"]
    assert first["service"] and first["window"] == 1 and first["case_id"] == case["id"]
    assert unrated not in {x["ticket_id"] for x in shown["ratings"]}

    # The manager reads the phone (a timeline step the clerk does not see).
    phone = await client.get(
        f"{API}/{hall.code}/reviews/cases/{case['id']}/phone", headers=hall.h("manager")
    )
    assert phone.json()["phone"] == PHONE
    [mycase] = await mine(client, hall)
    assert mycase["id"] == case["id"] and mycase["may_appeal"] is True
    assert mycase["state_text"] == "待回访" and mycase["rectify_due"] == case["rectify_due"]
    assert [s["step"] for s in mycase["steps"]] == ["opened"]
    assert "has_phone" not in mycase and "actor" not in str(mycase["steps"])

    # An appeal needs a reason; then it goes to 申诉复核, once.
    assert_problem(
        await client.post(appeal_url, json={}, headers=hall.h("staff")), 422, "validation_error"
    )
    filed = await client.post(
        appeal_url, json={"reason": "群众误按评价器，现场已确认满意"}, headers=hall.h("staff")
    )
    assert filed.status_code == 200, filed.text
    assert filed.json()["state"] == "appealing" and filed.json()["steps"] == []
    [mycase] = await mine(client, hall)
    assert mycase["appeal"] == "filed" and mycase["may_appeal"] is False
    assert mycase["appeal_reason"] == "群众误按评价器，现场已确认满意"
    assert [s["step"] for s in mycase["steps"]] == ["opened", "appeal"]
    assert_problem(
        await client.post(appeal_url, json={"reason": "再次"}, headers=hall.h("staff")),
        409,
        "appeal_not_allowed",
    )
    # The manager sees the appeal among the cases to decide.
    [appealing] = await cases(client, hall, "?state=appealing")
    assert appealing["id"] == case["id"] and appealing["appeal"] == "filed"
    assert appealing["invalid_reason"] == "群众误按评价器，现场已确认满意"
    # Upheld: kept on the clerk's page, left out of their 好评率 (1 / 1).
    decided = await client.post(
        f"{API}/{hall.code}/reviews/cases/{case['id']}/steps/decide",
        json={"upheld": True},
        headers=hall.h("manager"),
    )
    assert decided.status_code == 200, decided.text
    shown = await mine(client, hall, "/ratings")
    assert shown["excluded"] == 1 and shown["good_percent"] == "100.00"
    assert shown["levels"]["2"] == 0 and len(shown["ratings"]) == 2


async def test_the_delay_is_the_halls_setting_and_the_page_is_for_accounts(
    client: httpx.AsyncClient, hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_url = f"{API}/{hall.code}/reviews/settings"
    current = (await client.get(settings_url, headers=hall.h("manager"))).json()
    # Never less than ten minutes: the citizen must have gone.
    too_short = await client.put(
        settings_url, json={**current, "staff_view_delay_minutes": 5}, headers=hall.h("manager")
    )
    assert_problem(too_short, 422, "validation_error")
    put = await client.put(
        settings_url, json={**current, "staff_view_delay_minutes": 60}, headers=hall.h("manager")
    )
    assert put.status_code == 200, put.text
    await act(client, hall, 1, "sign-in", who="staff")
    ticket_id = await finished(client, hall)
    r = await client.post(
        f"{API}/{hall.code}/tickets/{ticket_id}/evaluation",
        json={"level": 4},
        headers=hall.h("kiosk"),
    )
    assert r.status_code == 201
    later(monkeypatch, 45)
    assert (await mine(client, hall, "/ratings"))["held_back"] == 1
    later(monkeypatch, 61)
    got = await mine(client, hall, "/ratings")
    assert got["delay_minutes"] == 60 and [x["level"] for x in got["ratings"]] == [4]
    # A period outside the ratings shows none; a reversed one is refused.
    empty = await mine(client, hall, "/ratings?from=2026-01-01&to=2026-01-31")
    assert empty["ratings"] == [] and empty["first"] == "2026-01-01"
    assert_problem(
        await client.get(
            f"{API}/{hall.code}/reviews/mine/ratings?from=2026-02-01&to=2026-01-01",
            headers=hall.h("staff"),
        ),
        422,
        "validation_error",
    )
    # A device has no ratings of its own.
    for path in ("/mine", "/mine/ratings"):
        assert_problem(
            await client.get(f"{API}/{hall.code}/reviews{path}", headers=hall.h("kiosk")),
            403,
            "forbidden",
        )
