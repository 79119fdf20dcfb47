"""Regions (#19) over the API on both databases: the tree and who edits it, the region
admin's scope (a town's admin sees its town only, a district's every town below it), a
region admin only reads, the district's reports sum its halls, and the appeal is decided
by the region admin above the hall."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from openpyxl import load_workbook
from sqlalchemy import select

from services.engine.auth.models import User
from services.engine.auth.security import create_access_token
from tests.helpers.api import API, act, assert_problem, issue
from tests.helpers.app import access_change
from tests.helpers.hallday import a_small_day
from tests.helpers.halls import Hall
from tests.helpers.regions import (
    CITY,
    DISTRICT,
    TOWN_A,
    TOWN_B,
    a_district,
    place,
)

REGIONS = "/api/v1/regions"


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def period() -> dict[str, str]:
    return {"from": today().isoformat(), "to": today().isoformat()}


async def city_admin(app: Any) -> dict[str, str]:
    """An administrator of no hall (edits the tree)."""
    async with app.state.sessionmaker() as session:
        user = User(hall_id=None, username="city", password_hash="x", role="admin", active=True)
        session.add(user)
        await session.commit()
        token = create_access_token(
            secret=app.state.settings.secret_key,
            user_id=user.id,
            role="admin",
            hall_id=None,
            minutes=5,
        )
    return {"Authorization": f"Bearer {token}"}


async def test_the_tree_is_edited_by_an_administrator_and_read_by_region_admins(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    district = await a_district(app, client, hall)
    admin = await city_admin(app)
    # A village below street A, its parent implied by its code.
    added = await client.put(f"{REGIONS}/330106001001", json={"name": "玉泉社区"}, headers=admin)
    assert added.status_code == 200, added.text
    assert added.json()["parent"] == TOWN_A and added.json()["level"] == "village"
    assert added.json()["path"] == f"/{CITY}/{DISTRICT}/{TOWN_A}/330106001001/"
    # Bad codes and misplaced regions are refused with stable codes.
    assert_problem(
        await client.put(f"{REGIONS}/33010", json={"name": "x"}, headers=admin),
        422,
        "validation_error",
    )
    assert_problem(
        await client.put(
            f"{REGIONS}/330106003", json={"name": "x", "parent": "330108"}, headers=admin
        ),
        404,
        "not_found",
    )
    assert_problem(
        await client.put(
            f"{REGIONS}/330106003", json={"name": "x", "parent": TOWN_A}, headers=admin
        ),
        409,
        "region_refused",
    )
    # A region with halls below it stays.
    assert_problem(await client.delete(f"{REGIONS}/{TOWN_A}", headers=admin), 409, "region_in_use")
    assert (await client.delete(f"{REGIONS}/330106001001", headers=admin)).status_code == 204

    # The district's admin reads the tree below the district, the halls in it...
    tree = await client.get(REGIONS, headers=district.h("district_admin"))
    assert tree.status_code == 200, tree.text
    assert tree.json()["scope"] == DISTRICT
    lines = {r["code"]: r for r in tree.json()["regions"]}
    assert list(lines) == [DISTRICT, TOWN_A, TOWN_B]
    assert lines[DISTRICT]["parent"] == CITY
    assert [h["code"] for h in lines[TOWN_A]["halls"]] == [district.a.code]
    assert [h["code"] for h in lines[TOWN_B]["halls"]] == [district.b.code]
    # ...and edits nothing; a hall's manager reads no tree at all.
    for who in ("district_admin", "town_a_admin"):
        assert_problem(
            await client.put(f"{REGIONS}/{TOWN_A}", json={"name": "改名"}, headers=district.h(who)),
            403,
            "forbidden",
        )
    assert_problem(await client.get(REGIONS, headers=hall.h("manager")), 403, "forbidden")
    assert_problem(
        await client.put(f"{REGIONS}/{TOWN_A}", json={"name": "改名"}, headers=hall.h("admin")),
        403,
        "forbidden",
    )

    # A remote station (its own engine) is registered under a street.
    station = await client.post(
        f"{REGIONS}/{TOWN_B}/stations",
        json={"code": "xixi-village", "name": "西溪村服务站"},
        headers=admin,
    )
    assert station.status_code == 200 and station.json()["remote"] is True
    tree = (await client.get(REGIONS, headers=admin)).json()
    b = next(r for r in tree["regions"] if r["code"] == TOWN_B)
    assert {h["code"]: h["remote"] for h in b["halls"]} == {
        district.b.code: False,
        "xixi-village": True,
    }


async def test_a_hall_file_places_its_hall_in_the_tree(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    from services.engine.halls.service import get_hall
    from services.engine.regions import repository
    from services.engine.setup.apply import apply_hall_file
    from services.engine.setup.hall_file import parse_hall_file
    from tests.helpers.halls import TEST_HALL

    text = TEST_HALL.read_text(encoding="utf-8").replace(
        "[hall]\n", '[hall]\nregion = "330106001"\n', 1
    )
    text += (
        '\n[[region]]\ncode = "330100"\nname = "杭州市"\n'
        '\n[[region]]\ncode = "330106"\nname = "西湖区"\n'
        '\n[[region]]\ncode = "330106001"\nname = "北山街道"\n'
    )
    async with app.state.sessionmaker() as session:
        report = await apply_hall_file(session=session, spec=parse_hall_file(text))
        await session.commit()
        assert any("region 330106001" in c for c in report.changes), report.changes
        found = await get_hall(session=session, code=hall.code)
        town = await repository.by_code(session, TOWN_A)
        assert town is not None and found.region_id == town.id
        assert town.path == f"/{CITY}/{DISTRICT}/{TOWN_A}/"
        # The same file again changes nothing.
        again = await apply_hall_file(session=session, spec=parse_hall_file(text))
        await session.commit()
        assert not [c for c in again.changes if "region" in c]


async def test_a_town_sees_its_own_halls_and_the_district_all(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    district = await a_district(app, client, hall)
    a, b = district.a, district.b
    await a_small_day(client, a)
    await a_small_day(client, b)
    await issue(client, b)  # one more ticket in the neighbouring town

    def stats(h: Hall, report: str) -> str:
        return f"{API}/{h.code}/stats/{report}"

    # A town's manager cannot see the neighbouring town's statistics or overview.
    for url in (stats(b, "volumes"), f"{API}/{b.code}/manage/overview"):
        assert_problem(
            await client.get(url, params=period(), headers=a.h("manager")), 403, "forbidden"
        )
    # A street's admin sees its street's hall, not the neighbour's.
    town_a = district.h("town_a_admin")
    assert (
        await client.get(stats(a, "volumes"), params=period(), headers=town_a)
    ).status_code == 200
    assert_problem(
        await client.get(stats(b, "volumes"), params=period(), headers=town_a), 403, "forbidden"
    )
    assert_problem(
        await client.get(f"{API}/{b.code}/manage/overview", headers=town_a), 403, "forbidden"
    )
    assert_problem(
        await client.get(f"{REGIONS}/{DISTRICT}/stats/volumes", params=period(), headers=town_a),
        403,
        "forbidden",
    )
    # The district's admin sees every hall below it: statistics, overview, cases.
    xihu = district.h("district_admin")
    for h in (a, b):
        for report in ("volumes", "waits", "handling", "windows"):
            got = await client.get(stats(h, report), params=period(), headers=xihu)
            assert got.status_code == 200, (h.code, report, got.text)
        assert (
            await client.get(f"{API}/{h.code}/manage/overview", headers=xihu)
        ).status_code == 200
        assert (await client.get(f"{API}/{h.code}/reviews/cases", headers=xihu)).status_code == 200
        got = await client.get(f"{API}/{h.code}/reviews/indicators", params=period(), headers=xihu)
        assert got.status_code == 200, got.text

    # The district's reports: each hall and their sum.
    vol = await client.get(
        f"{REGIONS}/{DISTRICT}/stats/volumes", params={**period(), "group": "hour"}, headers=xihu
    )
    assert vol.status_code == 200, vol.text
    body = vol.json()
    per_hall = {h["hall"]: h["total"] for h in body["halls"]}
    assert per_hall[a.code]["issued"] == 4 and per_hall[b.code]["issued"] == 5
    assert body["total"]["issued"] == 9 and body["total"]["served"] == 4
    assert body["total"]["no_show"] == 2 and body["total"]["cancelled"] == 2
    assert body["total"]["by_outcome"] == {"done": 2, "told_missing": 2}
    assert sum(r["issued"] for r in body["rows"]) == 9
    # A street's report has its hall only.
    town = (
        await client.get(f"{REGIONS}/{TOWN_A}/stats/volumes", params=period(), headers=town_a)
    ).json()
    assert [h["hall"] for h in town["halls"]] == [a.code] and town["total"]["issued"] == 4

    waits = (
        await client.get(
            f"{REGIONS}/{DISTRICT}/stats/waits", params={**period(), "group": "none"}, headers=xihu
        )
    ).json()
    # Three calls per hall (A001, A002, B001): the district's waits are all six.
    assert [h["total"]["seconds"]["count"] for h in waits["halls"]] == [3, 3]
    assert waits["total"]["seconds"]["count"] == 6
    assert {w["service"]: w["seconds"]["count"] for w in waits["by_service"]} == {
        "business": 4,
        "estate": 2,
    }
    handling = (
        await client.get(f"{REGIONS}/{DISTRICT}/stats/handling", params=period(), headers=xihu)
    ).json()
    assert handling["count"] == 4 and handling["by_service"]["business"]["count"] == 4
    assert [h["count"] for h in handling["halls"]] == [2, 2]

    windows = (
        await client.get(f"{REGIONS}/{DISTRICT}/stats/windows", params=period(), headers=xihu)
    ).json()
    # Window 1 of each hall did every case: each half of the district's.
    busiest = [(w["hall"], w["window"], w["cases"]) for w in windows["balance"]["busiest"]]
    assert busiest == [(b.code, 1, 2), (a.code, 1, 2)]  # equal: by hall code
    assert windows["balance"]["top3_case_share"] == 1.0
    assert {(w["hall"], w["window"]) for w in windows["balance"]["low_volume"]} == {
        (a.code, 4),
        (b.code, 4),
    }
    as_csv = await client.get(
        f"{REGIONS}/{DISTRICT}/stats/windows", params={**period(), "format": "csv"}, headers=xihu
    )
    assert as_csv.content.decode("utf-8-sig").splitlines()[0].startswith("大厅,窗口,办件量")

    # The monthly report (月报), as JSON and as XLSX read back.
    month = today().strftime("%Y-%m")
    monthly = await client.get(
        f"{REGIONS}/{DISTRICT}/stats/monthly", params={"month": month}, headers=xihu
    )
    assert monthly.status_code == 200, monthly.text
    report = monthly.json()
    assert {h["hall"]: h["volume"]["issued"] for h in report["halls"]} == {a.code: 4, b.code: 5}
    assert report["volume"]["issued"] == 9 and report["volume"]["served"] == 4
    assert report["wait"]["count"] == 6
    assert report["balance"]["top3_case_share"] == 1.0
    book = await client.get(
        f"{REGIONS}/{DISTRICT}/stats/monthly",
        params={"month": month, "format": "xlsx"},
        headers=xihu,
    )
    sheets = load_workbook(io.BytesIO(book.content))
    assert sheets.sheetnames == ["汇总", "办件量前三窗口", "低于月度标准", "各窗口"]
    rows = list(sheets["汇总"].iter_rows(values_only=True))
    assert rows[-1][:3] == ("西湖区合计", 9, 4)
    assert [r[1:3] for r in rows[1:-1]] == [(5, 2), (4, 2)]  # the halls by code
    assert_problem(
        await client.get(
            f"{REGIONS}/{DISTRICT}/stats/monthly", params={"month": "2026-13"}, headers=xihu
        ),
        422,
        "validation_error",
    )
    # Another region's admin, or a hall's account, gets no region report.
    assert_problem(
        await client.get(
            f"{REGIONS}/{TOWN_B}/stats/monthly", params={"month": month}, headers=town_a
        ),
        403,
        "forbidden",
    )
    assert_problem(
        await client.get(
            f"{REGIONS}/{TOWN_A}/stats/monthly", params={"month": month}, headers=a.h("manager")
        ),
        403,
        "forbidden",
    )


async def test_a_region_admin_only_reads(app: Any, client: httpx.AsyncClient, hall: Hall) -> None:
    district = await a_district(app, client, hall)
    xihu = district.h("district_admin")
    code = hall.code
    # Reads: queues, windows.
    assert (await client.get(f"{API}/{code}/queues", headers=xihu)).status_code == 200
    assert (await client.get(f"{API}/{code}/windows", headers=xihu)).status_code == 200
    # Acts in nothing: issue, open or call at a window, settings, notice, accounts.
    refused = [
        await client.post(f"{API}/{code}/tickets", json={"service": "business"}, headers=xihu),
        await client.post(f"{API}/{code}/windows/1/open", headers=xihu),
        await client.post(f"{API}/{code}/windows/1/call-next", headers=xihu),
        await client.put(f"{API}/{code}/notice", json={"notice": "x"}, headers=xihu),
        await client.put(f"{API}/{code}/settings/rules", json={}, headers=xihu),
        await client.get(f"{API}/{code}/reviews/settings", headers=xihu),
        await client.post(
            f"{API}/{code}/accounts",
            json={"username": "x-staff", "role": "staff"},
            headers=xihu,
        ),
        await client.get(f"{API}/{code}/accounts", headers=xihu),
    ]
    for response in refused:
        assert_problem(response, 403, "forbidden")
    queues = (await client.get(f"{API}/{code}/queues", headers=hall.h("staff"))).json()
    assert all(q["issued_today"] == 0 for q in queues["queues"])
    windows = (await client.get(f"{API}/{code}/windows", headers=hall.h("staff"))).json()
    assert all(w["state"] == "closed" for w in windows)


async def test_the_scope_follows_the_tree(
    app: Any, client: httpx.AsyncClient, hall: Hall, database_url: str
) -> None:
    """A hall moved out of a region leaves its admin's scope at once (the access cache
    forgets on PostgreSQL's announcement; SQLite keeps nothing)."""
    district = await a_district(app, client, hall)
    url = f"{API}/{district.b.code}/stats/volumes"
    town_b = district.h("town_b_admin")
    assert (await client.get(url, params=period(), headers=town_b)).status_code == 200
    # On PostgreSQL the caller, with its scope, is now kept by the access cache.
    cache = app.state.access_cache
    assert cache.live == database_url.startswith("postgresql")
    if cache.live:
        assert any(p.region == TOWN_B for p, _ in cache._principals.values())
    async with access_change(app):
        await place(app, district.b.code, TOWN_A)
    assert_problem(await client.get(url, params=period(), headers=town_b), 403, "forbidden")
    town_a = district.h("town_a_admin")
    assert (await client.get(url, params=period(), headers=town_a)).status_code == 200


async def appealed_case(client: httpx.AsyncClient, hall: Hall) -> dict[str, Any]:
    await act(client, hall, 1, "sign-in", who="staff")
    ticket = await issue(client, hall)
    await act(client, hall, 1, "open", who="staff")
    for action in ("call-next", "start", "finish"):
        assert (await act(client, hall, 1, action, who="staff")).status_code == 200
    rated = await client.post(
        f"{API}/{hall.code}/tickets/{ticket['id']}/evaluation",
        json={"level": 1, "comment": "态度差"},
        headers=hall.h("kiosk"),
    )
    assert rated.status_code == 201, rated.text
    cases = await client.get(f"{API}/{hall.code}/reviews/cases", headers=hall.h("manager"))
    [case] = cases.json()
    verified = await client.post(
        f"{API}/{hall.code}/reviews/cases/{case['id']}/steps/contact",
        json={"channel": "phone", "result": "reached"},
        headers=hall.h("manager"),
    )
    assert verified.status_code == 200, verified.text
    invalid = await client.post(
        f"{API}/{hall.code}/reviews/cases/{case['id']}/steps/verify",
        json={"valid": False, "reason": "群众误按"},
        headers=hall.h("manager"),
    )
    assert invalid.status_code == 200 and invalid.json()["state"] == "appealing", invalid.text
    found: dict[str, Any] = invalid.json()
    return found


async def test_the_appeal_is_decided_by_the_region_admin_above_the_hall(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    district = await a_district(app, client, hall)
    case = await appealed_case(client, hall)
    decide = f"{API}/{hall.code}/reviews/cases/{case['id']}/decide"
    step = f"{API}/{hall.code}/reviews/cases/{case['id']}/steps/decide"
    # The hall's manager does not judge its own staff's appeal when a region admin oversees it.
    for url in (decide, step):
        assert_problem(
            await client.post(url, json={"upheld": True}, headers=hall.h("manager")),
            403,
            "appeal_decided_by_region",
        )
    # The neighbouring street's admin is not above this hall; the staff never decide.
    assert_problem(
        await client.post(decide, json={"upheld": True}, headers=district.h("town_b_admin")),
        403,
        "forbidden",
    )
    assert_problem(
        await client.post(decide, json={"upheld": True}, headers=hall.h("staff")),
        403,
        "forbidden",
    )
    # The street's admin decides: upheld, the case closes as an invalid review.
    decided = await client.post(decide, json={"upheld": True}, headers=district.h("town_a_admin"))
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "closed" and decided.json()["appeal"] == "upheld"
    assert decided.json()["steps"][-1]["actor"].endswith("beishan-admin")
    # The region admin works no other step.
    assert_problem(
        await client.post(
            f"{API}/{hall.code}/reviews/cases/{case['id']}/steps/close",
            json={},
            headers=district.h("town_a_admin"),
        ),
        403,
        "forbidden",
    )


async def test_without_a_region_admin_the_manager_decides(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    district = await a_district(app, client, hall)
    # Street A's admin and the district's are disabled: nobody above the hall decides.
    async with access_change(app), app.state.sessionmaker() as session:
        for user in (
            await session.execute(select(User).where(User.role == "region_admin"))
        ).scalars():
            user.active = False
        await session.commit()
    case = await appealed_case(client, district.a)
    decided = await client.post(
        f"{API}/{hall.code}/reviews/cases/{case['id']}/decide",
        json={"upheld": False},
        headers=hall.h("manager"),
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "verified" and decided.json()["appeal"] == "rejected"
