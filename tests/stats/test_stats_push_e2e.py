"""A village station's figures reach its district (``jiaohao stats push``, #19), with real
processes: a station engine on SQLite has a day of history; ``jiaohao stats push`` sends
it to a district engine (SQLite and PostgreSQL); the district's reports of the remote
hall, and its region's, give the station's own figures for that day exactly (less the
clerks, who are not sent); a second push changes nothing; a token of another district's
station, a hall not registered here as a remote station, a day not closed, a malformed
or oversized body are each refused with their code; the stored rows name nobody."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from services.engine.core.db import make_engine, make_sessionmaker
from tests.helpers.api import assert_problem
from tests.helpers.app import app_for, serving
from tests.helpers.cli import JIAOHAO, Cli, engine_env
from tests.helpers.db import empty_tables
from tests.helpers.hallday import a_small_day
from tests.helpers.halls import Hall, seed_hall, seeded
from tests.helpers.history import move_back
from tests.helpers.processes import EngineProcess, start
from tests.helpers.regions import CITY, DISTRICT, TOWN_A, put_region, region_admin

pytestmark = [pytest.mark.slow]

TZ = ZoneInfo("Asia/Shanghai")
STATION = "testhall"  # the station's hall, registered under the same code at the district
OTHER_DISTRICT = "330108"  # 滨江区
OTHER_TOWN = "330108001"


def yesterday() -> date:
    return datetime.now(TZ).date() - timedelta(days=1)


async def district_world(url: str, tmp_path: Path) -> dict[str, Any]:
    """The district's engine: 西湖区 with the station registered under one of its streets,
    a station of another district, a station placed in no region, a hall of its own;
    a station token for each, a region admin, a city administrator."""
    from services.engine.auth.models import User
    from services.engine.auth.permissions import DeviceKind
    from services.engine.auth.security import create_access_token
    from services.engine.devices import admin as devices
    from services.engine.halls.service import get_hall
    from services.engine.regions import service as regions

    app = app_for(url)
    tokens: dict[str, str] = {}
    async with serving(app) as client:
        local = await seed_hall(app, client, other_code="centre")  # has a station device too
        await put_region(app, CITY, "杭州市")
        await put_region(app, DISTRICT, "西湖区")
        await put_region(app, TOWN_A, "北山街道")
        await put_region(app, OTHER_DISTRICT, "滨江区")
        await put_region(app, OTHER_TOWN, "西兴街道")
        async with app.state.sessionmaker() as session:
            for code, name, region in (
                (STATION, "北山服务站", TOWN_A),
                ("xixing", "西兴服务站", OTHER_TOWN),
                ("lonely", "未归属服务站", TOWN_A),
            ):
                await regions.register_station(
                    session=session, code=code, name=name, region_code=region, actor="test"
                )
                hall = await get_hall(session=session, code=code)
                _, tokens[code] = await devices.add(
                    session=session,
                    hall=hall,
                    kind=DeviceKind.STATION,
                    name=f"{code}-push",
                    actor="test",
                )
        await regions_place_nowhere(app, "lonely")
        headers = {"district": await region_admin(app, "xihu-admin", DISTRICT)}
        async with app.state.sessionmaker() as session:
            city = User(hall_id=None, username="city", password_hash="x", role="admin", active=True)
            session.add(city)
            await session.commit()
            token = create_access_token(
                secret=app.state.settings.secret_key,
                user_id=city.id,
                role="admin",
                hall_id=None,
                minutes=60,
            )
        headers["city"] = {"Authorization": f"Bearer {token}"}
    return {"tokens": tokens, "headers": headers, "local": local}


async def regions_place_nowhere(app: Any, code: str) -> None:
    from services.engine.regions import service as regions

    async with app.state.sessionmaker() as session:
        await regions.place_hall(session=session, hall_code=code, region_code=None, actor="test")


def push(
    station_url: str, cwd: Path, to: str, token: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = engine_env(station_url)
    env["JIAOHAO_STATION_TOKEN"] = token
    return subprocess.run(
        [str(JIAOHAO), "stats", "push", "--to", to, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=180,
        check=False,
    )


REPORTS = ("volumes", "waits", "handling", "windows")


async def reports_of(
    client: httpx.AsyncClient, base: str, hall: str, headers: dict[str, str], day: date
) -> dict[str, Any]:
    period = {"from": day.isoformat(), "to": day.isoformat()}
    out: dict[str, Any] = {}
    for name in REPORTS:
        answer = await client.get(
            f"{base}/api/v1/halls/{hall}/stats/{name}", params=period, headers=headers
        )
        assert answer.status_code == 200, (name, answer.text)
        out[name] = answer.json()
    return out


def comparable(found: dict[str, Any]) -> dict[str, Any]:
    """The figures a station sends: every report but the clerks' (not sent), and the
    windows that worked (a station's idle windows are not sent)."""
    windows = found["windows"]
    return {
        "volumes": {k: found["volumes"][k] for k in ("rows", "total")},
        "waits": {k: found["waits"][k] for k in ("rows", "all_services", "heatmap")},
        "handling": {k: found["handling"][k] for k in ("by_service", "by_window")},
        "windows": [w for w in windows["windows"] if w["cases"] or w["open_seconds"]],
    }


def same(a: Any, b: Any) -> bool:
    """Equal, numbers to 1e-9 (sums of the same seconds taken in another order)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and abs(a - b) <= 1e-9
    return bool(a == b)


async def stored_rows(
    url: str, hall_code: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    import services.engine.models  # noqa: F401
    from services.engine.halls.models import Hall as HallRow
    from services.engine.statistics.models import StatsTicketFact, StatsWindowFact

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            hall_id = (
                await session.execute(select(HallRow.id).where(HallRow.code == hall_code))
            ).scalar_one()
            tickets = (
                (
                    await session.execute(
                        select(StatsTicketFact.__table__).where(StatsTicketFact.hall_id == hall_id)
                    )
                )
                .mappings()
                .all()
            )
            windows = (
                (
                    await session.execute(
                        select(StatsWindowFact.__table__).where(StatsWindowFact.hall_id == hall_id)
                    )
                )
                .mappings()
                .all()
            )
            return [dict(r) for r in tickets], [dict(r) for r in windows]
    finally:
        await engine.dispose()


async def test_a_station_pushes_its_day_and_the_district_reports_it(
    database_url: str, tmp_path: Path
) -> None:
    # The station: its own engine on SQLite, a day of activity moved to yesterday.
    station_url = f"sqlite+aiosqlite:///{tmp_path / 'station.db'}"
    Cli(station_url, tmp_path, None).ok("migrate")
    hall: Hall = await seeded(station_url)
    world = await district_world(database_url, tmp_path)
    station = EngineProcess(station_url, tmp_path, "station")
    district = EngineProcess(database_url, tmp_path, "district")
    await start(station, district)
    day = yesterday()
    try:
        async with httpx.AsyncClient(base_url=station.base_url, timeout=10) as http:
            await a_small_day(http, hall)
        station.stop()
        await move_back(station_url, days=1)

        # A station device is for a remote hall only, and the token never on the line.
        at_station = Cli(station_url, tmp_path, None)
        refused = at_station("device", "add", "--kind", "station", "--hall", STATION, "--name", "x")
        assert refused.returncode == 2 and "remote station" in refused.stderr
        at_district = Cli(database_url, tmp_path, None)
        refused = at_district("device", "add", "--kind", "kiosk", "--hall", STATION, "--name", "k")
        assert refused.returncode == 2 and "only a station device" in refused.stderr
        no_token = await asyncio.to_thread(push, station_url, tmp_path, district.base_url, "")
        assert no_token.returncode == 2 and "JIAOHAO_STATION_TOKEN" in no_token.stderr
        dry = await asyncio.to_thread(
            push, station_url, tmp_path, district.base_url, "", "--dry-run", "--days", "3"
        )
        assert dry.returncode == 0 and f"{yesterday()}  would send" in dry.stdout, dry.stdout

        # The push: every closed day of the last three with figures (the day above).
        token = world["tokens"][STATION]
        first = await asyncio.to_thread(
            push, station_url, tmp_path, district.base_url, token, "--days", "3"
        )
        assert first.returncode == 0, first.stderr
        assert f"{day}  stored" in first.stdout, first.stdout
        assert "tickets    4" in first.stdout, first.stdout
        assert token not in first.stdout + first.stderr

        # The station's own reports of the day, and the district's of the remote hall.
        async with serving(app_for(station_url)) as own:
            mine = await reports_of(own, "", STATION, hall.h("manager"), day)
        async with httpx.AsyncClient(timeout=10) as http:
            theirs = await reports_of(
                http, district.base_url, STATION, world["headers"]["city"], day
            )
            assert same(comparable(theirs), comparable(mine)), (theirs, mine)
            assert mine["volumes"]["total"]["issued"] == 4
            assert theirs["handling"]["by_staff"] == {}  # no clerk was sent
            assert theirs["windows"]["staff"] == []
            # The region's report has the station, its figures the station's own.
            region = await http.get(
                f"{district.base_url}/api/v1/regions/{DISTRICT}/stats/volumes",
                params={"from": day.isoformat(), "to": day.isoformat(), "group": "none"},
                headers=world["headers"]["district"],
            )
            assert region.status_code == 200, region.text
            line = next(h for h in region.json()["halls"] if h["hall"] == STATION)
            assert line["total"] == mine["volumes"]["total"] | {"key": "total"}
            assert region.json()["total"]["issued"] == mine["volumes"]["total"]["issued"]
            # and the district's 月报 (rows rebuilt from the pushed facts: counts, mean and
            # largest wait, handling, the windows that worked)
            monthly = await http.get(
                f"{district.base_url}/api/v1/regions/{DISTRICT}/stats/monthly",
                params={"month": day.strftime("%Y-%m")},
                headers=world["headers"]["district"],
            )
            assert monthly.status_code == 200, monthly.text
            sheet = next(h for h in monthly.json()["halls"] if h["hall"] == STATION)
            assert sheet["note"] is None and sheet["remote"] is True
            assert sheet["volume"] == mine["volumes"]["total"] | {"key": "total"}
            (every,) = mine["waits"]["all_services"]
            for figure in ("count", "mean", "max"):
                assert same(sheet["wait"][figure], every["seconds"][figure]), figure
            assert sheet["over_target"] == every["over_target"]
            worked = comparable(mine)["windows"]
            assert sorted(w["window"] for w in sheet["windows"]) == [w["window"] for w in worked]

            # Nothing personal in the stored rows: no clerk, no ticket id of the station.
            tickets, windows = await stored_rows(database_url, STATION)
            assert len(tickets) == 4 and windows
            assert all(r["staff"] is None for r in tickets + windows)
            assert all(r["ticket_id"] < 0 for r in tickets)
            assert {w["kind"] for w in windows} <= {"open", "paused"}
            assert set(tickets[0]) == {
                "ticket_id", "hall_id", "business_date", "day", "hour", "weekday", "week",
                "month", "service", "window", "staff", "priority", "source", "status",
                "outcome", "continuation", "ever_held", "wait_s", "wait_b", "handling_s",
                "handling_b", "rating",
            }  # fmt: skip

            # Twice: nothing changes.
            again = await asyncio.to_thread(
                push, station_url, tmp_path, district.base_url, token, "--days", "3"
            )
            assert again.returncode == 0, again.stderr
            assert f"{day}  unchanged" in again.stdout, again.stdout
            assert await stored_rows(database_url, STATION) == (tickets, windows)
            again_theirs = await reports_of(
                http, district.base_url, STATION, world["headers"]["city"], day
            )
            assert same(comparable(again_theirs), comparable(mine))

            body = json.loads(json.dumps(_body_of_day(day)))
            url = f"{district.base_url}/api/v1/halls/{{hall}}/stats/days/{{day}}"

            async def put(hall_code: str, when: date, who: str, payload: Any) -> httpx.Response:
                return await http.put(
                    url.format(hall=hall_code, day=when),
                    json=payload,
                    headers={"Authorization": f"Bearer {who}"},
                )

            # Other figures for the day replace it whole; the station's next push puts its
            # own back.
            other = await put(STATION, day, token, body)
            assert other.status_code == 200 and other.json()["result"] == "replaced", other.text
            swapped = await reports_of(
                http, district.base_url, STATION, world["headers"]["city"], day
            )
            assert swapped["volumes"]["total"]["issued"] == 1
            restored = await asyncio.to_thread(
                push, station_url, tmp_path, district.base_url, token, "--days", "3"
            )
            assert f"{day}  replaced" in restored.stdout, restored.stdout + restored.stderr
            back = await reports_of(http, district.base_url, STATION, world["headers"]["city"], day)
            assert same(comparable(back), comparable(mine))
            tickets, windows = await stored_rows(database_url, STATION)
            receipts = await http.get(
                f"{district.base_url}/api/v1/halls/{STATION}/stats/days",
                params={"from": day.isoformat(), "to": day.isoformat()},
                headers=world["headers"]["district"],
            )
            (receipt,) = receipts.json()["days"]
            assert (receipt["tickets"], receipt["pushes"]) == (4, 3), receipt

            # Refusals, each with its code.
            # another district's station's token, for this district's station
            assert_problem(
                await put(STATION, day, world["tokens"]["xixing"], body), 403, "forbidden"
            )
            # a station no longer registered under a region here
            assert_problem(
                await put("lonely", day, world["tokens"]["lonely"], body), 409, "not_a_station"
            )
            # a hall of the district's own (a station device slipped in): not a station
            local_station = world["local"].h("station")["Authorization"].split(" ", 1)[1]
            assert_problem(await put("centre", day, local_station, body), 409, "not_a_station")
            # a manager is not a station device
            assert_problem(
                await http.put(
                    url.format(hall=STATION, day=day),
                    json=body,
                    headers=world["headers"]["city"],
                ),
                403,
                "forbidden",
            )
            # today (not closed) and a future day
            today = day + timedelta(days=1)
            for when in (today, today + timedelta(days=3)):
                dated = {**body, "business_date": when.isoformat()}
                assert_problem(await put(STATION, when, token, dated), 422, "day_not_closed")
            # malformed: a field too many, a wait out of range, an unknown status,
            # a service not listed, the day differing from the path, not JSON at all
            bad_ticket = dict(body["tickets"][0])
            for broken in (
                {**body, "staff": 3},
                {**body, "tickets": [{**bad_ticket, "wait_s": -1}]},
                {**body, "tickets": [{**bad_ticket, "status": "lost"}]},
                {**body, "tickets": [{**bad_ticket, "staff": 7}]},
                {**body, "tickets": [{**bad_ticket, "service": "unlisted"}]},
                {**body, "business_date": (day - timedelta(days=1)).isoformat()},
                {
                    **body,
                    "windows": [
                        {"window": 1, "kind": "paused", "reason": "张三家里有事", "seconds": 5}
                    ],
                },
            ):
                assert_problem(await put(STATION, day, token, broken), 422, "validation_error")
            raw = await http.put(
                url.format(hall=STATION, day=day),
                content=b"{not json",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            assert_problem(raw, 422, "validation_error")
            # too many tickets for one day (a body past the engine's 1 MB is cut off unread,
            # as every route's: tests/api)
            small = {k: bad_ticket[k] for k in ("day", "hour", "service", "priority", "source")}
            small |= {"status": "no_show", "continuation": False, "ever_held": False}
            many = {**body, "tickets": [small] * 2501}
            assert_problem(await put(STATION, day, token, many), 422, "validation_error")
            # nothing above was stored
            assert await stored_rows(database_url, STATION) == (tickets, windows)
    finally:
        station.stop()
        district.stop()
    await empty_tables(database_url)


def _body_of_day(day: date) -> dict[str, Any]:
    """A small valid day's figures (the refusals change one thing each)."""
    return {
        "format": 1,
        "business_date": day.isoformat(),
        "services": [
            {
                "code": "business",
                "name": "综合业务",
                "target_wait_minutes": 20,
                "average_handle_minutes": 8.0,
            }
        ],
        "tickets": [
            {
                "day": day.isoformat(),
                "hour": 9,
                "service": "business",
                "window": 1,
                "priority": "normal",
                "source": "kiosk",
                "status": "done",
                "outcome": "done",
                "continuation": False,
                "ever_held": False,
                "wait_s": 120.0,
                "handling_s": 300.0,
                "rating": 5,
            }
        ],
        "windows": [{"window": 1, "kind": "open", "reason": "", "seconds": 3600.0}],
    }
