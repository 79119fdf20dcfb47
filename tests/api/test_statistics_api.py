"""Statistics over the API (#19, first part): a small day at two windows, read back as
volumes, waits, handling and the windows report (JSON, CSV, XLSX). Both databases."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from openpyxl import load_workbook

from tests.helpers.api import API, assert_problem
from tests.helpers.hallday import a_small_day
from tests.helpers.halls import Hall


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def stats(
    client: httpx.AsyncClient, hall: Hall, report: str, who: str = "manager", **params: object
) -> httpx.Response:
    query = {"from": today().isoformat(), "to": today().isoformat(), **params}
    return await client.get(f"{API}/{hall.code}/stats/{report}", params=query, headers=hall.h(who))


async def test_a_day_in_figures(client: httpx.AsyncClient, hall: Hall) -> None:
    await a_small_day(client, hall)

    volumes = await stats(client, hall, "volumes", group="hour")
    assert volumes.status_code == 200, volumes.text
    total = volumes.json()["total"]
    assert (total["issued"], total["served"], total["no_show"], total["cancelled"]) == (4, 2, 1, 1)
    assert total["held"] == 1 and total["by_outcome"] == {"done": 1, "told_missing": 1}
    assert total["by_source"] == {"kiosk": 4}
    assert sum(r["issued"] for r in volumes.json()["rows"]) == 4
    only_estate = (await stats(client, hall, "volumes", service="estate")).json()["total"]
    assert (only_estate["issued"], only_estate["no_show"]) == (1, 1)

    waits = (await stats(client, hall, "waits", group="none")).json()
    by_service = {r["service"]: r for r in waits["rows"]}
    assert by_service["business"]["seconds"]["count"] == 2  # A001 and A002 were called
    assert by_service["estate"]["seconds"]["count"] == 1  # B001 was called, did not come
    assert by_service["business"]["over_target"] == 0.0
    assert waits["all_services"][0]["seconds"]["count"] == 3
    assert len(waits["heatmap"]) == 1

    handling = (await stats(client, hall, "handling")).json()
    assert handling["by_service"]["business"]["count"] == 2
    assert handling["by_window"]["1"]["count"] == 2
    assert handling["by_staff"][f"{hall.code}-staff"]["count"] == 2

    report = (await stats(client, hall, "windows")).json()
    lines = {w["window"]: w for w in report["windows"]}
    assert lines[1]["cases"] == 2 and lines[4]["cases"] == 0 and lines[1]["case_share"] == 1.0
    assert lines[1]["open_seconds"] > 0 and lines[2]["open_seconds"] == 0
    assert report["balance"]["top3_case_share"] == 1.0
    # Window 4 opened and did nothing: under the hall's monthly threshold.
    assert report["balance"]["low_volume_windows"] == [4]
    [clerk] = [s for s in report["staff"] if s["staff"] == f"{hall.code}-staff"]
    assert clerk["cases"] == 2 and clerk["signed_in_seconds"] > 0

    # As files: CSV (UTF-8 with a BOM for spreadsheets) and XLSX, read back.
    as_csv = await stats(client, hall, "windows", format="csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["窗口", "办件量", "办件占比"]
    assert table[1][:2] == ["1号窗口", "2"]
    as_xlsx = await stats(client, hall, "windows", format="xlsx")
    book = load_workbook(io.BytesIO(as_xlsx.content))
    assert book.sheetnames == ["窗口", "忙闲不均"]
    rows = list(book["窗口"].iter_rows(values_only=True))
    assert rows[1][:2] == ("1号窗口", 2)
    balance = {r[0]: r[1] for r in book["忙闲不均"].iter_rows(values_only=True)}
    assert balance["办件量前三窗口占比"] == 1.0 and balance["办件量偏低的窗口"] == "4号"


def _csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _sheets(response: httpx.Response) -> dict[str, list[tuple[object, ...]]]:
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.content))
    return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}


async def test_every_report_downloads_as_csv_and_xlsx(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    """The files say what the JSON says, in the hall's words."""
    await a_small_day(client, hall)
    day = today().isoformat()

    volumes = _csv(await stats(client, hall, "volumes", group="day", format="csv"))
    heads = volumes[0]
    assert heads[:4] == ["期间", "取号", "办结", "过号"]
    assert "结果：办结" in heads and "结果：一次性告知" in heads and "来源：取号机" in heads
    by_period = {r[0]: dict(zip(heads, r, strict=True)) for r in volumes[1:]}
    assert set(by_period) == {day, "合计"}
    total = by_period["合计"]
    assert (total["取号"], total["办结"], total["过号"], total["取消"]) == ("4", "2", "1", "1")
    assert (total["结果：办结"], total["来源：取号机"]) == ("1", "4")
    book = _sheets(await stats(client, hall, "volumes", group="day", format="xlsx"))
    assert list(book) == ["办件量"] and book["办件量"][-1][:3] == ("合计", 4, 2)

    waits_json = (await stats(client, hall, "waits", group="none")).json()
    book = _sheets(await stats(client, hall, "waits", group="none", format="xlsx"))
    assert list(book) == ["等候时长", "星期×时段"]
    rows = {r[1]: r for r in book["等候时长"][1:]}
    business = next(r for r in waits_json["rows"] if r["service"] == "business")["seconds"]
    assert rows["企业开办"][2] == 2 and rows["全部业务"][2] == 3
    assert rows["企业开办"][3] == round(business["mean"] / 60, 2)
    assert len(book["星期×时段"]) == 2  # the heading and the one hour of the day
    waits_csv = _csv(await stats(client, hall, "waits", group="none", format="csv"))
    assert waits_csv[0] == ["等候时长"] and waits_csv[1][:3] == ["期间", "业务", "件数"]
    assert ["星期×时段"] in waits_csv  # the second table under its title

    handling = _csv(await stats(client, hall, "handling", format="csv"))
    assert handling[0] == [
        "维度",
        "名称",
        "件数",
        "平均(分钟)",
        "中位数(分钟)",
        "90%(分钟)",
        "最长(分钟)",
    ]
    named = {(r[0], r[1]): r for r in handling[1:]}
    assert named[("业务", "企业开办")][2] == "2"
    assert named[("窗口", "1号窗口")][2] == "2"
    assert named[("工作人员", f"{hall.code}-staff")][2] == "2"
    book = _sheets(await stats(client, hall, "handling", format="xlsx"))
    assert book["办理时长"][1][:3] == ("业务", "企业开办", 2)

    refused = await stats(client, hall, "volumes", format="pdf")
    assert_problem(refused, 422, "validation_error")
    assert (await stats(client, hall, "waits", who="staff", format="csv")).status_code == 403


async def test_who_may_read_and_bad_periods(client: httpx.AsyncClient, hall: Hall) -> None:
    for who in ("staff", "kiosk", "gateway", "display"):
        assert (await stats(client, hall, "volumes", who=who)).status_code == 403, who
    assert (await stats(client, hall, "volumes", who="admin")).status_code == 200
    backwards = await stats(
        client,
        hall,
        "volumes",
        **{"from": today().isoformat(), "to": (today() - timedelta(days=1)).isoformat()},
    )
    assert_problem(backwards, 422, "validation_error")
    too_long = await stats(
        client, hall, "waits", **{"from": (today() - timedelta(days=400)).isoformat()}
    )
    assert_problem(too_long, 422, "validation_error")
    far = await stats(client, hall, "windows", **{"from": "9999-12-01", "to": "9999-12-31"})
    assert_problem(far, 422, "validation_error")
    assert_problem(await stats(client, hall, "volumes", service="nope"), 404, "not_found")
    assert_problem(await stats(client, hall, "windows", window=77), 404, "not_found")
    assert_problem(await stats(client, hall, "volumes", group="fortnight"), 422, "validation_error")
    # An empty period reads as zeros, not as an error.
    empty = (await stats(client, hall, "windows")).json()
    assert all(w["cases"] == 0 for w in empty["windows"])
    assert empty["balance"]["gini_handling"] is None


async def test_advice_rests_on_the_history_it_names(client: httpx.AsyncClient, hall: Hall) -> None:
    await a_small_day(client, hall)
    response = await stats(client, hall, "advice")
    assert response.status_code == 200, response.text
    body = response.json()
    weekday = today().weekday() < 5
    assert body["weekdays"] == (1 if weekday else 0) and body["service_level"] == 0.8
    business = next(s for s in body["services"] if s["service"] == "business")
    assert business["tickets"] == 3 and business["own_windows"] == 3
    # Two finished cases are too few: the hall file's mean handling time is used.
    assert not business["handle_from_history"] and business["mean_handle_seconds"] == 8 * 60
    assert business["no_show_rate"] == 0.0
    estate = next(s for s in body["services"] if s["service"] == "estate")
    assert estate["no_show_rate"] == 1.0
    # A typical weekday's hours: today's hour if today is one.
    assert len(business["hours"]) == (1 if weekday else 0)
    if weekday:
        (hour,) = business["hours"]
        assert hour["arrivals"] == 3 and hour["windows"] >= 1
    assert (await stats(client, hall, "advice", who="staff")).status_code == 403
