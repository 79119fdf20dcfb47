"""The satisfaction report (GET .../stats/satisfaction) on both databases: counts per level
and the 好差评 indicators in all and per window, staff member and service, on a day built
here with every figure worked out by hand; the same figures as the 好差评 indicators; the
filters; CSV and XLSX read back."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from openpyxl import load_workbook

from tests.helpers.api import API, act, assert_problem, issue
from tests.helpers.halls import Hall

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def served(client: httpx.AsyncClient, hall: Hall, window: int, service: str) -> int:
    ticket = await issue(client, hall, service)
    for action in ("call-next", "start", "finish"):
        response = await act(client, hall, window, action)
        assert response.status_code == 200, response.text
        if action == "call-next":
            assert response.json()["ticket"]["id"] == ticket["id"]
    return int(ticket["id"])


async def rate(client: httpx.AsyncClient, hall: Hall, ticket: int, body: dict[str, Any]) -> int:
    r = await client.post(
        f"{API}/{hall.code}/tickets/{ticket}/evaluation", json=body, headers=hall.h("gateway")
    )
    assert r.status_code == 201, r.text
    cases = await client.get(f"{API}/{hall.code}/reviews/cases", headers=hall.h("manager"))
    found = [c["id"] for c in cases.json() if c["ticket_id"] == ticket]
    return found[0] if found else 0


async def steps(
    client: httpx.AsyncClient, hall: Hall, case: int, *taken: tuple[str, dict[str, Any]]
) -> None:
    for name, body in taken:
        r = await client.post(
            f"{API}/{hall.code}/reviews/cases/{case}/steps/{name}",
            json=body,
            headers=hall.h("manager"),
        )
        assert r.status_code == 200, (name, r.text)


async def a_rated_day(client: httpx.AsyncClient, hall: Hall) -> None:
    """Six finished tickets. Window 1 (the clerk signed in): t1 非常满意, t2 满意, t3 非常
    不满意 (its case worked to 已回评 满意, rectified today), t4 unrated. Window 2 (nobody
    signed in): t5 不满意, found invalid and upheld by 申诉复核. Window 4: t6 基本满意
    (estate)."""
    for action in ("sign-in", "open"):
        assert (await act(client, hall, 1, action, who="staff")).status_code == 200
    for window in (2, 4):
        assert (await act(client, hall, window, "open")).status_code == 200
    t1, t2, t3, t4 = [await served(client, hall, 1, "business") for _ in range(4)]
    t5 = await served(client, hall, 2, "business")
    t6 = await served(client, hall, 4, "estate")
    await rate(client, hall, t1, {"level": 5})
    await rate(client, hall, t2, {"level": 4})
    bad = await rate(client, hall, t3, {"level": 1, "comment": "太慢"})
    mistaken = await rate(client, hall, t5, {"level": 2, "comment": "按错了"})
    await rate(client, hall, t6, {"level": 3})
    assert bad and mistaken and t4
    await steps(
        client,
        hall,
        bad,
        ("contact", {"channel": "phone", "result": "reached"}),
        ("verify", {"valid": True}),
        ("plan", {"measure": "培训", "responsible": "科长"}),
        ("rectified", {}),
        ("reply", {"reply": "已整改"}),
        ("satisfaction", {"satisfaction": "satisfied"}),
    )
    await steps(
        client,
        hall,
        mistaken,
        ("contact", {"channel": "phone", "result": "reached"}),
        ("verify", {"valid": False, "reason": "误按"}),
        ("decide", {"upheld": True}),
    )


def percents(line: dict[str, Any]) -> dict[str, str | None]:
    return {k: r["percent"] for k, r in line["rates"].items()}


async def test_satisfaction_per_window_staff_and_service(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    await a_rated_day(client, hall)
    today = datetime.now(SHANGHAI).date()
    url = f"{API}/{hall.code}/stats/satisfaction?from={today}&to={today}"
    got = await client.get(url, headers=hall.h("manager"))
    assert got.status_code == 200, got.text
    body = got.json()
    total = body["total"]
    # F = 6 finished; A = 5 rated (all by the citizens); X = 1 (t5, upheld); R = A - X = 4.
    assert (total["finished"], total["active"], total["defaults"], total["excluded"]) == (
        6,
        5,
        0,
        1,
    )
    assert total["levels"] == {"5": 1, "4": 1, "3": 1, "2": 0, "1": 1}
    assert total["cases"] == 1  # t5's case is excluded with its rating
    assert percents(total) == {
        "participation": "83.33",  # 5 / 6
        "unrated": "16.67",  # 1 / 6
        "good": "75.00",  # levels 3-5: 3 / 4
        "active_good": "75.00",  # 3 / (5 - 1)
        "bad": "25.00",  # 1 / 4
        "reply": "100.00",  # t3's case: replied, called back, rectified on time, satisfied
        "contact": "100.00",
        "rectify": "100.00",
        "rectify_on_time": "100.00",
        "contact_rectify": "100.00",
        "rectify_satisfaction": "100.00",
    }
    assert total["rates"]["good"] == {
        "name": "好评率",
        "numerator": 3,
        "denominator": 4,
        "percent": "75.00",
    }
    # The same figures as the 好差评 loop's own indicators: one definition.
    loop = await client.get(
        f"{API}/{hall.code}/reviews/indicators?from={today}&to={today}", headers=hall.h("manager")
    )
    assert {k: v["percent"] for k, v in loop.json()["rates"].items()} == percents(total)

    windows = {w["key"]: w for w in body["by_window"]}
    # Every window of the hall, in order (the chart's bars).
    assert [w["name"] for w in body["by_window"]] == ["1号窗口", "2号窗口", "3号窗口", "4号窗口"]
    w1 = windows["1"]
    assert (w1["finished"], w1["active"], w1["levels"]["1"]) == (4, 3, 1)
    assert percents(w1)["participation"] == "75.00"  # 3 / 4
    assert percents(w1)["good"] == "66.67"  # 2 / 3
    assert percents(w1)["bad"] == "33.33"  # 1 / 3
    # Window 2: rated once, the rating invalid: no 好评率 (0 / 0), no case.
    w2 = windows["2"]
    assert (w2["finished"], w2["active"], w2["excluded"]) == (1, 1, 1)
    assert percents(w2)["participation"] == "100.00"
    assert percents(w2)["good"] is None and percents(w2)["reply"] is None
    assert windows["3"]["finished"] == 0 and percents(windows["3"])["participation"] is None
    assert percents(windows["4"])["good"] == "100.00" and windows["4"]["levels"]["3"] == 1

    staff = {s["name"]: s for s in body["by_staff"]}
    assert set(staff) == {f"{hall.code}-staff", "未签到"}
    assert percents(staff[f"{hall.code}-staff"]) == percents(w1)
    # Nobody signed in: t5 and t6, 2 rated of 2, t5 excluded: 好评率 1 / 1.
    nobody = staff["未签到"]
    assert (nobody["finished"], nobody["active"], nobody["excluded"]) == (2, 2, 1)
    assert percents(nobody)["good"] == "100.00"

    services = {s["key"]: s for s in body["by_service"]}
    assert [s["key"] for s in body["by_service"]] == ["business", "estate"]
    business = services["business"]
    assert (business["finished"], business["active"]) == (5, 4)
    assert percents(business)["participation"] == "80.00"  # 4 / 5
    assert percents(business)["unrated"] == "20.00"  # 1 / 5
    assert percents(business)["good"] == "66.67"  # 2 / 3 (t5 excluded)
    assert services["estate"]["finished"] == 1 and services["estate"]["active"] == 1

    # Filters: one window, one service, one priority class.
    one = (await client.get(f"{url}&window=1", headers=hall.h("manager"))).json()
    assert [w["key"] for w in one["by_window"]] == ["1"] and one["total"]["finished"] == 4
    assert percents(one["total"]) == percents(w1)
    estate = (await client.get(f"{url}&service=estate", headers=hall.h("manager"))).json()
    assert estate["total"]["finished"] == 1 and [s["key"] for s in estate["by_service"]] == [
        "estate"
    ]
    green = (await client.get(f"{url}&priority=green", headers=hall.h("manager"))).json()
    assert green["total"]["finished"] == 0 and green["total"]["active"] == 0

    # CSV (with a BOM) and XLSX, read back.
    raw = await client.get(f"{url}&format=csv", headers=hall.h("manager"))
    assert raw.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(raw.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["维度", "名称", "办件量"] and "好评率(%)" in rows[0]
    good_col = rows[0].index("好评率(%)")
    assert rows[1][:4] == ["全部", "全部", "6", "5"] and rows[1][good_col] == "75.0"
    assert [r[1] for r in rows if r[0] == "窗口"] == ["1号窗口", "2号窗口", "3号窗口", "4号窗口"]
    assert len(rows) == 1 + 1 + 4 + 2 + 2
    xlsx = await client.get(f"{url}&format=xlsx", headers=hall.h("manager"))
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["满意度汇总", "按窗口", "按工作人员", "按业务"]
    sheet = list(book["按窗口"].iter_rows(values_only=True))
    heads = list(sheet[1])
    assert sheet[2][0] == "1号窗口" and sheet[2][heads.index("好评率(%)")] == 66.67
    assert sheet[3][heads.index("好评率(%)")] is None  # window 2: no value, not 0


async def test_refusals(client: httpx.AsyncClient, hall: Hall) -> None:
    url = f"{API}/{hall.code}/stats/satisfaction?from=2026-11-01&to=2026-11-30"
    empty = await client.get(url, headers=hall.h("manager"))
    assert empty.status_code == 200 and empty.json()["total"]["finished"] == 0
    assert_problem(await client.get(url, headers=hall.h("staff")), 403, "forbidden")
    assert_problem(
        await client.get(f"{url}&service=nosuch", headers=hall.h("manager")), 404, "not_found"
    )
    assert_problem(
        await client.get(f"{url}&window=99", headers=hall.h("manager")), 404, "not_found"
    )
    assert_problem(
        await client.get(
            f"{API}/{hall.code}/stats/satisfaction?from=2026-11-30&to=2026-11-01",
            headers=hall.h("manager"),
        ),
        422,
        "validation_error",
    )
