"""The hall settings API (大厅设置) on both databases: services, hours and calendar, calling
rules; the hall file's rules refused in Chinese; changes at once, audited, on the bus;
``hall apply`` of an old file and the export; who may use it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.engine.core.db import utcnow
from services.engine.events.models import HallEvent
from services.engine.halls.national import national_calendar
from services.engine.setup.apply import apply_hall_file
from services.engine.setup.export import export_text
from services.engine.setup.hall_file import parse_hall_file
from services.engine.tickets.numbering import business_date
from tests.helpers.api import API, assert_problem, issue
from tests.helpers.halls import TEST_HALL, Hall


def url(hall: Hall, path: str = "") -> str:
    return f"{API}/{hall.code}/settings{path}"


async def read(client: httpx.AsyncClient, hall: Hall, who: str = "manager") -> dict[str, Any]:
    response = await client.get(url(hall), headers=hall.h(who))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def put(
    client: httpx.AsyncClient, hall: Hall, path: str, body: dict[str, Any], who: str = "manager"
) -> httpx.Response:
    return await client.put(url(hall, path), json=body, headers=hall.h(who))


async def audit(client: httpx.AsyncClient, hall: Hall) -> list[dict[str, Any]]:
    since = (utcnow() - timedelta(hours=1)).isoformat()
    response = await client.get(
        f"{API}/{hall.code}/audit", params={"since": since}, headers=hall.h("manager")
    )
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


async def test_reads_services_hours_rules_and_the_calendar(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    body = await read(client, hall)
    services = {s["code"]: s for s in body["services"]}
    assert services["estate"]["daily_quota"] == 3 and services["estate"]["prefix"] == "B"
    assert services["estate"]["windows"]  # who serves it
    assert body["hours"]["weekly"] == {"daily": ["00:00-24:00"]}
    assert body["hours"]["national_calendar"] is False  # the test hall opens every day
    assert body["rules"]["max_recalls"] == 3 and body["rules"]["interleave"] == "2:1"
    calendar = body["calendar"]
    national = national_calendar()
    this_year = business_date(utcnow(), "Asia/Shanghai").year
    assert [y["year"] for y in calendar["years"]] == [this_year, this_year + 1]
    assert calendar["last_year"] == national.last_year
    assert calendar["unknown_years"] == [
        y for y in (this_year, this_year + 1) if y > national.last_year
    ]
    for year in calendar["years"]:
        assert year["known"] == national.knows(year["year"])
        assert bool(year["days"]) == year["known"]  # an unknown year: nothing guessed
        assert all(d["open"] for d in year["days"])  # it does not follow the calendar
    assert calendar["warning"] is None  # it does not follow it: nothing to warn about


async def test_a_hall_following_the_national_calendar_is_told_of_an_unknown_year(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    response = await put(client, hall, "/hours", {"national_calendar": True})
    assert response.status_code == 200, response.text
    calendar = response.json()["settings"]["calendar"]
    assert calendar["follows_national"] is True
    if calendar["unknown_years"]:
        assert "尚无" in calendar["warning"] and "chinese-calendar" in calendar["warning"]
    known = [y for y in calendar["years"] if y["known"]]
    for year in known:
        for day in year["days"]:
            assert day["open"] == day["working"], day  # holidays closed, 调休 days open


async def test_a_new_daily_quota_holds_at_the_next_issue(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    await issue(client, hall, "estate")
    response = await put(client, hall, "/services/estate", {"daily_quota": 2})
    assert response.status_code == 200, response.text
    change = response.json()
    assert change["changed"] and change["before"] == {"daily_quota": 3}
    assert change["after"] == {"daily_quota": 2}
    await issue(client, hall, "estate")
    refused = await client.post(
        f"{API}/{hall.code}/tickets", json={"service": "estate"}, headers=hall.h("kiosk")
    )
    assert_problem(refused, 409, "quota_exhausted")
    # No quota at all: null.
    response = await put(client, hall, "/services/estate", {"daily_quota": None})
    assert response.json()["after"] == {"daily_quota": None}
    await issue(client, hall, "estate")
    entries = [e for e in await audit(client, hall) if e["action"] == "settings.service"]
    assert [e["after"] for e in entries] == [{"daily_quota": None}, {"daily_quota": 2}]
    assert entries[1]["before"] == {"daily_quota": 3}
    assert entries[1]["actor"].startswith("user:") and entries[1]["actor"].endswith(
        ":testhall-manager"
    )


async def test_a_change_is_announced_and_saving_the_same_is_no_change(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    async def updates() -> list[dict[str, Any]]:
        async with app.state.sessionmaker() as session:
            rows = (
                (await session.execute(select(HallEvent).where(HallEvent.type == "hall.updated")))
                .scalars()
                .all()
            )
            return [dict(r.payload) for r in rows]

    first = len(await updates())
    body = {"name": "不动产登记（一窗受理）", "target_wait_minutes": 30}
    assert (await put(client, hall, "/services/estate", body)).status_code == 200
    assert (await updates())[first:] == [{"hall": hall.code, "settings": "estate"}]
    again = await put(client, hall, "/services/estate", body)
    assert again.status_code == 200 and again.json()["changed"] is False
    assert len(await updates()) == first + 1


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/services/estate", {"prefix": "A"}, "取号前缀 A 已被其他业务使用"),
        ("/services/estate", {"prefix": "b1"}, "取号前缀：格式不正确"),
        ("/services/estate", {"daily_quota": -1}, "每日限号：不能小于 0"),
        ("/services/estate", {"name": ""}, "名称"),
        (
            "/services/estate",
            {
                "period_quotas": [
                    {"hours": "08:00-10:00", "limit": 5},
                    {"hours": "09:00-11:00", "limit": 5},
                ]
            },
            "分时段限号的时段 08:00-10:00 与 09:00-11:00 重叠",
        ),
        ("/hours", {"weekly": {"mon-fri": ["17:30-08:30"]}}, "结束时间须晚于开始时间"),
        ("/hours", {"weekly": {"monday-fri": ["8:30"]}}, "格式不正确"),
        ("/hours", {"working_dates": {"2026-10-10": "funday"}}, "“funday”不是星期"),
        (
            "/hours",
            {"closed_dates": ["2026-10-10"], "working_dates": {"2026-10-10": "mon"}},
            "不能既是闭厅日又是调休上班日",
        ),
        ("/rules", {"interleave": "3-1"}, "交替比例应形如 2:1"),
        ("/rules", {"max_recalls": 11}, "最多重呼次数：不能大于 10"),
        ("/rules", {"no_show": "forget"}, "过号处理：只能是"),
    ],
)
async def test_bad_input_is_refused_in_chinese_and_nothing_is_saved(
    client: httpx.AsyncClient, hall: Hall, path: str, body: dict[str, Any], words: str
) -> None:
    before = await read(client, hall)
    response = await put(client, hall, path, body)
    problem = assert_problem(response, 422, "settings_invalid")
    assert words in problem["detail"], problem["detail"]
    assert problem["detail"].endswith("设置未保存。")
    assert problem["problems"] and all(p["message"] for p in problem["problems"])
    after = await read(client, hall)
    assert {k: v for k, v in after.items() if k != "calendar"} == {
        k: v for k, v in before.items() if k != "calendar"
    }
    assert not [e for e in await audit(client, hall) if e["action"].startswith("settings.")]


async def test_rules_and_hours_change_only_what_is_sent(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    response = await put(client, hall, "/rules", {"max_recalls": 5, "no_show": "requeue"})
    assert response.status_code == 200, response.text
    rules = response.json()["settings"]["rules"]
    assert rules["max_recalls"] == 5 and rules["no_show"] == "requeue"
    assert rules["interleave"] == "2:1"  # untouched
    response = await put(client, hall, "/hours", {"closed_dates": ["2026-12-25"]})
    hours = response.json()["settings"]["hours"]
    assert hours["closed_dates"] == ["2026-12-25"] and hours["weekly"] == {"daily": ["00:00-24:00"]}
    actions = [e["action"] for e in await audit(client, hall)]
    assert actions[:2] == ["settings.hours", "settings.rules"]


async def test_a_new_service_is_issued_at_once(client: httpx.AsyncClient, hall: Hall) -> None:
    clash = await client.post(
        url(hall, "/services"),
        json={"code": "tax", "name": "税务", "prefix": "B"},
        headers=hall.h("manager"),
    )
    assert "取号前缀 B 已被其他业务使用" in assert_problem(clash, 422, "settings_invalid")["detail"]
    same = await client.post(
        url(hall, "/services"),
        json={"code": "estate", "name": "又一个", "prefix": "T"},
        headers=hall.h("manager"),
    )
    assert "业务代码在同一大厅内不能重复" in assert_problem(same, 422, "settings_invalid")["detail"]
    made = await client.post(
        url(hall, "/services"),
        json={"code": "tax", "name": "税务", "prefix": "T", "daily_quota": 10},
        headers=hall.h("manager"),
    )
    assert made.status_code == 201, made.text
    ticket = await issue(client, hall, "tax")
    assert ticket["number"].startswith("T")
    # Stopped (停办): the kiosk is refused; the service stays listed.
    off = await put(client, hall, "/services/tax", {"active": False})
    assert off.status_code == 200 and off.json()["after"] == {"active": False}
    refused = await client.post(
        f"{API}/{hall.code}/tickets", json={"service": "tax"}, headers=hall.h("kiosk")
    )
    assert refused.status_code in (404, 409), refused.text


async def test_hall_apply_of_an_old_file_overwrites_page_edits_and_says_so(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    assert (await put(client, hall, "/services/estate", {"daily_quota": 9})).status_code == 200
    assert (await put(client, hall, "/rules", {"max_recalls": 6})).status_code == 200
    async with app.state.sessionmaker() as session:
        from services.engine.halls.service import get_hall

        text = await export_text(
            session, await get_hall(session=session, code=hall.code), now=utcnow()
        )
        await session.rollback()
    assert "daily_quota = 9" in text and "max_recalls = 6" in text
    async with app.state.sessionmaker() as session:
        report = await apply_hall_file(
            session=session, spec=parse_hall_file(TEST_HALL.read_text("utf-8"))
        )
    quota = [c for c in report.changes if c.startswith("service estate: daily_quota 9 -> 3")]
    assert quota and "overwrites the settings page's change by" in quota[0], report.changes
    rules = [c for c in report.changes if c.startswith("hall: rules")]
    assert rules and "max_recalls by" in rules[0], report.changes
    assert (await read(client, hall))["rules"]["max_recalls"] == 3
    # The export applied back: nothing to change.
    async with app.state.sessionmaker() as session:
        report = await apply_hall_file(session=session, spec=parse_hall_file(text))
    assert any(c.startswith("service estate: daily_quota 3 -> 9") for c in report.changes)
    async with app.state.sessionmaker() as session:
        again = await apply_hall_file(session=session, spec=parse_hall_file(text))
    assert not again.changed, again.changes


async def test_who_may_change_the_settings(
    client: httpx.AsyncClient, hall: Hall, bhall: Hall
) -> None:
    for who in ("staff", "kiosk", "gateway", "display"):
        assert_problem(await client.get(url(hall), headers=hall.h(who)), 403, "forbidden")
        response = await put(client, hall, "/services/estate", {"daily_quota": 1}, who=who)
        assert_problem(response, 403, "forbidden")
        response = await put(client, hall, "/rules", {"max_recalls": 1}, who=who)
        assert_problem(response, 403, "forbidden")
        export = await client.get(url(hall, "/export"), headers=hall.h(who))
        assert_problem(export, 403, "forbidden")
    # A manager of another hall is refused this one.
    assert_problem(await client.get(url(hall), headers=bhall.h("manager")), 403, "forbidden")
    response = await client.put(
        url(hall, "/hours"), json={"national_calendar": True}, headers=bhall.h("manager")
    )
    assert_problem(response, 403, "forbidden")
    assert_problem(await client.get(url(hall)), 401, "unauthorized")
    # The hall's admin may; an unknown service is not found.
    response = await put(client, hall, "/services/estate", {"daily_quota": 4}, who="admin")
    assert response.status_code == 200, response.text
    assert_problem(
        await put(client, hall, "/services/nope", {"daily_quota": 4}, who="admin"), 404, "not_found"
    )
    export = await client.get(url(hall, "/export"), headers=hall.h("admin"))
    assert export.status_code == 200 and "daily_quota = 4" in export.text
    assert parse_hall_file(export.text).hall.code == hall.code


async def test_doctor_warns_of_an_unknown_year_for_a_hall_that_follows_the_calendar(
    database_url: str, client: httpx.AsyncClient, hall: Hall
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from services.doctor import OK, WARN, check_calendar

    async def said() -> Any:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                (result,) = await check_calendar(connection)
        finally:
            await engine.dispose()
        return result

    quiet = await said()
    assert quiet.status == OK and quiet.name == "national calendar"
    assert (await put(client, hall, "/hours", {"national_calendar": True})).status_code == 200
    loud = await said()
    this_year = business_date(utcnow(), "Asia/Shanghai").year
    if national_calendar().unknown_years([this_year, this_year + 1]):
        assert (
            loud.status == WARN
            and hall.code in loud.said
            and "update chinese-calendar" in loud.said
        )
    else:
        assert loud.status == OK
