"""Statistics at district scale (#19, "Speed and scale"): a year of a district's history,
the facts kept by the engine's rollup, and every report timed.

The district: a centre (区政务服务中心) with 600 visitors a day at 20 windows and 12
services, and 30 town halls (便民服务中心) with 100 a day at 5 windows and 5 services;
Monday to Friday for a year (about 950,000 tickets), with their steps (issue, call,
start, finish / no-show / cancel, hold and call-back), the window log (sign-in, open,
lunch and short pauses, close, sign-out) and ratings. Written with COPY on PostgreSQL
and executemany on SQLite, then the facts are rolled up by the engine's own code
(``statistics.rollup.keep_facts``), then each report is run through the statistics
service (what the API serves, less HTTP and JSON):

- a month of the centre (group by day),
- a year of the whole district (31 halls; group by month; the windows report of every
  hall),
- a year of the centre on SQLite.

    .venv/bin/python -m bench.stats_district [--db pg|sqlite|both] [--scale 1.0]

The history is written with the statistics triggers off on PostgreSQL (no day is kept
yet, so they would do nothing); on SQLite they run. Nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sqlite3
import statistics as stats_lib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import text

from services.engine.core.db import make_engine, make_sessionmaker
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall, Service
from services.engine.migrate import upgrade
from services.engine.statistics import rollup
from services.engine.statistics import service as statistics
from services.engine.statistics.reports import Group
from services.engine.statistics.service import Filters

TZ = ZoneInfo("Asia/Shanghai")
PG_ADMIN = os.environ.get("JIAOHAO_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_NAME = "jiaohao_bench_stats"
SQLITE_PATH = Path(os.environ.get("JIAOHAO_BENCH_SQLITE", "/tmp/jiaohao-bench-stats.db"))
OUTCOMES = ["done"] * 6 + ["accepted", "accepted", "told_missing", "consulted"]
SOURCES = ["kiosk"] * 7 + ["booking", "booking", "staff"]
PAUSES = ["临时离岗", "培训", "系统故障"]


# --- the district's halls ------------------------------------------------------------


def plan(scale: float) -> list[dict[str, Any]]:
    halls = [
        {
            "code": "centre",
            "name": "区政务服务中心",
            "visitors": int(600 * scale),
            "windows": 20,
            "services": 12,
        }
    ]
    for i in range(30):
        halls.append(
            {
                "code": f"town{i + 1:02d}",
                "name": f"第{i + 1}街道便民服务中心",
                "visitors": int(100 * scale),
                "windows": 5,
                "services": 5,
            }
        )
    return halls


def local(day: date, hour: float) -> datetime:
    h = int(hour)
    m = (hour - h) * 60
    return datetime(day.year, day.month, day.day, h, int(m), int((m % 1) * 60), tzinfo=TZ)


class Ids:
    def __init__(self) -> None:
        self.ticket = 0
        self.event = 0
        self.log = 0
        self.rating = 0


def hall_day(
    rnd: random.Random,
    ids: Ids,
    hall: dict[str, Any],
    day: date,
    out: dict[str, list[tuple[Any, ...]]],
) -> None:
    """One hall-day: arrivals, a queue per service served by its windows, the log."""
    hall_id = hall["id"]
    services = hall["service_ids"]
    windows = hall["window_ids"]
    staff = hall["staff_ids"]
    # Which windows serve which service: as many as its share of the work asks for (at
    # least one; with more services than windows, a window serves several).
    weights = [1.0 / (k + 1) for k in range(len(services))]
    work = [w * h for w, h in zip(weights, hall["handle"], strict=True)]
    serving: dict[int, list[int]] = {}
    cycle = 0
    for k, s in enumerate(services):
        count = max(1, round(len(windows) * work[k] / sum(work)))
        serving[s] = [(cycle + i) % len(windows) for i in range(count)]
        cycle += count
    n = max(1, int(rnd.gauss(hall["visitors"], hall["visitors"] * 0.1)))
    arrivals = sorted(
        rnd.choice((rnd.uniform(8.9, 11.9), rnd.uniform(8.9, 11.9), rnd.uniform(13.5, 16.8)))
        for _ in range(n)
    )
    free_at = [local(day, 9.0)] * len(windows)
    afternoon = local(day, 13.5)
    lunch = local(day, 12.0)
    seq: dict[int, int] = {}
    for hour in arrivals:
        service = rnd.choices(services, weights)[0]
        k = services.index(service)
        seq[service] = seq.get(service, 0) + 1
        ids.ticket += 1
        tid = ids.ticket
        issued = local(day, hour)
        number = f"{chr(65 + k % 26)}{seq[service]:03d}"
        priority = "priority" if rnd.random() < 0.06 else "normal"
        source = rnd.choice(SOURCES)
        events: list[tuple[Any, ...]] = []

        def event(
            at: datetime,
            action: str,
            frm: str | None,
            to: str,
            w: int | None,
            tid: int = tid,
            events: list[tuple[Any, ...]] = events,
        ) -> None:
            ids.event += 1
            events.append(
                (
                    ids.event,
                    tid,
                    hall_id,
                    at,
                    action,
                    frm,
                    to,
                    "bench",
                    windows[w] if w is not None else None,
                    staff[w] if w is not None else None,
                    "{}",
                )
            )

        event(issued, "issue", None, "waiting", None)
        if rnd.random() < 0.02:  # cancelled before a call
            closed = issued + timedelta(minutes=rnd.uniform(2, 20))
            event(closed, "cancel", "waiting", "cancelled", None)
            row = (tid, service, "cancelled", issued, None, None, None, closed, None, 0, None)
        else:
            w = min(serving[service], key=lambda i: free_at[i])
            call = max(issued, free_at[w]) + timedelta(seconds=rnd.uniform(5, 40))
            if lunch <= call < afternoon:
                call = afternoon + timedelta(seconds=rnd.uniform(0, 120))
            event(call, "call", "waiting", "called", w)
            if rnd.random() < 0.03:
                gone = call + timedelta(minutes=1)
                event(gone, "no_show", "called", "no_show", w)
                free_at[w] = gone
                row = (tid, service, "no_show", issued, call, None, None, gone, w, 0, None)
            else:
                start = call + timedelta(seconds=rnd.uniform(20, 90))
                event(start, "start", "called", "serving", w)
                handle = rnd.lognormvariate(math.log(hall["handle"][k]), 0.5)
                held = 0.0
                if rnd.random() < 0.05:
                    at = start + timedelta(seconds=handle / 2)
                    held = rnd.uniform(120, 900)
                    event(at, "hold", "serving", "held", w)
                    event(at + timedelta(seconds=held), "call_back", "held", "serving", w)
                finished = start + timedelta(seconds=handle + held)
                event(finished, "finish", "serving", "done", w)
                free_at[w] = finished
                outcome = rnd.choice(OUTCOMES)
                row = (
                    tid,
                    service,
                    "done",
                    issued,
                    call,
                    start,
                    finished,
                    finished,
                    w,
                    held,
                    outcome,
                )
                if rnd.random() < 0.6:
                    ids.rating += 1
                    level = rnd.choices([5, 4, 3, 2, 1], [70, 20, 6, 3, 1])[0]
                    out["evaluations"].append(
                        (
                            ids.rating,
                            tid,
                            hall_id,
                            service,
                            windows[w],
                            staff[w],
                            level,
                            "[]",
                            "pad",
                            finished + timedelta(seconds=20),
                        )
                    )
        _, svc, status, issued_at, called, started, finished_at, closed, w, held, outcome = row
        out["tickets"].append(
            (
                tid,
                hall_id,
                svc,
                svc,
                day,
                seq[service],
                number,
                priority,
                source,
                status,
                0,
                0,
                issued_at,
                issued_at,
                called,
                started,
                finished_at,
                closed,
                windows[w] if w is not None else None,
                staff[w] if w is not None else None,
                int(held),
                outcome,
            )
        )
        out["ticket_events"] += events
    # The window log: sign-in, open, lunch, a short pause now and then, close, sign-out.
    for i, w in enumerate(windows):
        entries = [
            (local(day, 8.9), "sign_in", None),
            (local(day, 9.0), "open", None),
            (local(day, 12.0), "pause", "午休"),
            (local(day, 13.5), "resume", None),
        ]
        if rnd.random() < 0.3:
            at = rnd.uniform(14.0, 16.0)
            entries += [
                (local(day, at), "pause", rnd.choice(PAUSES)),
                (local(day, at + rnd.uniform(0.05, 0.3)), "resume", None),
            ]
        entries += [(local(day, 17.0), "close", None), (local(day, 17.05), "sign_out", None)]
        for at, action, reason in entries:
            ids.log += 1
            detail = json.dumps({"reason": reason}) if reason else "{}"
            out["window_log"].append((ids.log, hall_id, w, at, action, "bench", staff[i], detail))


TICKET_COLUMNS = [
    *("id", "hall_id", "service_id", "origin_service_id", "business_date", "sequence"),
    *("number", "priority", "source", "status", "recall_count", "requeue_count"),
    *("queued_at", "issued_at", "called_at", "started_at", "finished_at", "closed_at"),
    *("window_id", "staff_user_id", "held_seconds", "outcome"),
]
EVENT_COLUMNS = [
    *("id", "ticket_id", "hall_id", "at", "action", "from_status", "to_status", "actor"),
    *("window_id", "staff_user_id", "detail"),
]
LOG_COLUMNS = ["id", "hall_id", "window_id", "at", "action", "actor", "staff_user_id", "detail"]
RATING_COLUMNS = [
    *("id", "ticket_id", "hall_id", "service_id", "window_id", "staff_user_id", "level"),
    *("reasons", "channel", "created_at"),
]
TABLES = {
    "tickets": TICKET_COLUMNS,
    "ticket_events": EVENT_COLUMNS,
    "window_log": LOG_COLUMNS,
    "evaluations": RATING_COLUMNS,
}


# --- setting up the halls (through the models), then the history ------------------------


async def make_halls(url: str, halls: list[dict[str, Any]]) -> None:
    from services.engine.auth.models import User
    from services.engine.windows.models import Window, WindowService

    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    rnd = random.Random(7)
    async with maker() as session:
        for spec in halls:
            hall = Hall(code=spec["code"], name=spec["name"], timezone="Asia/Shanghai")
            session.add(hall)
            await session.flush()
            spec["id"] = hall.id
            services = []
            for k in range(spec["services"]):
                service = Service(
                    hall_id=hall.id,
                    code=f"s{k + 1:02d}",
                    name=f"业务{k + 1}",
                    prefix=chr(65 + k % 26),
                    target_wait_minutes=rnd.choice((10, 15, 20, 30)),
                    average_handle_minutes=rnd.choice((4, 6, 8, 12)),
                )
                session.add(service)
                services.append(service)
            await session.flush()
            spec["service_ids"] = [s.id for s in services]
            spec["handle"] = [s.average_handle_minutes * 60 for s in services]
            windows, staff = [], []
            for n in range(spec["windows"]):
                window = Window(hall_id=hall.id, number=n + 1, name=f"{n + 1}号窗口")
                user = User(
                    hall_id=hall.id,
                    username=f"{spec['code']}-clerk{n + 1}",
                    password_hash="!",
                    role="staff",
                )
                session.add_all([window, user])
                windows.append(window)
                staff.append(user)
            await session.flush()
            for i, window in enumerate(windows):
                session.add(
                    WindowService(
                        window_id=window.id, service_id=services[i % len(services)].id, weight=1.0
                    )
                )
            spec["window_ids"] = [w.id for w in windows]
            spec["staff_ids"] = [u.id for u in staff]
        await session.commit()
    await engine.dispose()


def weekdays(days: int) -> list[date]:
    yesterday = datetime.now(TZ).date() - timedelta(days=1)
    every = [yesterday - timedelta(days=i) for i in range(days)]
    return sorted(d for d in every if d.weekday() < 5)


def generate(halls: list[dict[str, Any]], days: list[date]) -> dict[str, list[tuple[Any, ...]]]:
    rnd = random.Random(19)
    ids = Ids()
    out: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES}
    for hall in halls:
        for day in days:
            hall_day(rnd, ids, hall, day, out)
    return out


async def load_postgres(url: str, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        # json in COPY's binary format is its text.
        await conn.set_type_codec(
            "json",
            encoder=lambda v: (v if isinstance(v, str) else json.dumps(v)).encode(),
            decoder=lambda b: json.loads(b.decode()),
            schema="pg_catalog",
            format="binary",
        )
        for table, columns in TABLES.items():
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            records = rows[table]
            await conn.copy_records_to_table(table, records=records, columns=columns)
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def load_sqlite(path: Path, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    def stamp(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(v, date):
            return v.isoformat()
        return v

    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA synchronous=OFF")
        for table, columns in TABLES.items():
            marks = ", ".join("?" for _ in columns)
            db.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                ([stamp(v) for v in r] for r in rows[table]),
            )
        db.commit()
        db.execute("ANALYZE")
    finally:
        db.close()


# --- timing --------------------------------------------------------------------------


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - began)
    return stats_lib.median(times)


async def keep(url: str) -> tuple[float, int]:
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    began = time.perf_counter()
    total = 0
    async with maker() as session:
        while True:
            rolled = await rollup.keep_facts(session, rounds=1000)
            total += rolled
            if rolled == 0:
                left = (
                    await session.execute(
                        text("SELECT count(*) FROM stats_days WHERE version <> rolled_version")
                    )
                ).scalar()
                await session.commit()
                if not left:
                    break
                await asyncio.sleep(0.5)  # a transaction elsewhere is older than the day
        # The planner's statistics of the facts, as autovacuum (off on the test server)
        # would gather them: taken before the facts were written, they say "empty", and
        # a year by day is planned as index loops and sorts on disk (2-4 times slower).
        await session.execute(text("ANALYZE"))
        await session.commit()
    await engine.dispose()
    return time.perf_counter() - began, total


Case = tuple[str, list[str], date, date, Group]


def work_of(kw: dict[str, Any], group: Group) -> dict[str, Callable[[], Awaitable[Any]]]:
    return {
        "volumes": lambda: statistics.volumes_report(**kw, filters=Filters(), group=group),
        "waits": lambda: statistics.waits_report(**kw, filters=Filters(), group=group),
        "handling": lambda: statistics.handling_report(**kw, filters=Filters()),
        "windows": lambda: statistics.windows_reports(**kw, filters=Filters()),
        "waits s01": lambda: statistics.waits_report(
            **kw, filters=Filters(service="s01"), group=group
        ),
    }


async def reports(url: str, label: str, cases: list[Case]) -> dict[str, float]:
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    out: dict[str, float] = {}
    async with maker() as session:
        by_code = {h.code: h for h in await halls_repo.list_halls(session)}
        for name, codes, first, last, group in cases:
            halls = [by_code[c] for c in codes]
            kw = {"session": session, "halls": halls, "first": first, "last": last}
            work = work_of(kw, group)
            for report, fn in work.items():
                seconds = await timed(fn)
                await session.commit()
                out[f"{label} {name} {report}"] = seconds
                print(f"  {label:6s} {name:18s} {report:10s} {seconds * 1000:8.0f} ms", flush=True)
    await engine.dispose()
    return out


async def size_of(url: str) -> str:
    if url.startswith("sqlite"):
        size = (await asyncio.to_thread(SQLITE_PATH.stat)).st_size
        return f"{size / 2**20:.0f} MB"
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        size = await conn.fetchval("SELECT pg_database_size($1)", PG_NAME)
    finally:
        await conn.close()
    return f"{size / 2**20:.0f} MB"


async def fresh_postgres() -> str:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{PG_NAME}"')
    finally:
        await conn.close()
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{PG_NAME}"


def fresh_sqlite() -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
    return f"sqlite+aiosqlite:///{SQLITE_PATH}"


async def run(which: str, scale: float, days: int, reuse: bool) -> None:
    halls = plan(scale)
    calendar = weekdays(days)
    last = calendar[-1]
    month_first = last.replace(day=1) - timedelta(days=1)
    month = (month_first.replace(day=1), month_first)
    year = (last - timedelta(days=364), last)
    # A year to today: today's figures are read raw (here: 31 halls with no ticket yet).
    today = datetime.now(TZ).date()
    to_today = (today - timedelta(days=364), today)
    codes = [h["code"] for h in halls]
    for db in ("pg", "sqlite") if which == "both" else (which,):
        # A month by day; a year by month (and, the slow way, a district's year by day).
        cases: list[Case] = [("centre month", ["centre"], *month, Group.DAY)]
        if db == "pg":
            cases.append(("district year", codes, *year, Group.MONTH))
            cases.append(("district to today", codes, *to_today, Group.MONTH))
            cases.append(("district year/day", codes, *year, Group.DAY))
        cases.append(("centre year", ["centre"], *year, Group.MONTH))
        cases.append(("centre year/day", ["centre"], *year, Group.DAY))
        if reuse:
            url = (
                PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
                + f"/{PG_NAME}"
                if db == "pg"
                else f"sqlite+aiosqlite:///{SQLITE_PATH}"
            )
            print(f"{db}: database size {await size_of(url)}", flush=True)
            await reports(url, db, cases)
            continue
        url = await fresh_postgres() if db == "pg" else fresh_sqlite()
        await asyncio.to_thread(upgrade, url)
        began = time.perf_counter()
        await make_halls(url, halls)
        rows = generate(halls, calendar)
        made = time.perf_counter() - began
        counts = {t: len(r) for t, r in rows.items()}
        began = time.perf_counter()
        if db == "pg":
            await load_postgres(url, rows)
        else:
            await asyncio.to_thread(load_sqlite, SQLITE_PATH, rows)
        loaded = time.perf_counter() - began
        del rows
        print(f"{db}: {counts}", flush=True)
        print(f"{db}: generated in {made:.0f} s, written in {loaded:.0f} s", flush=True)
        kept, rolled = await keep(url)
        print(f"{db}: facts of {rolled} hall-days rolled up in {kept:.0f} s", flush=True)
        print(f"{db}: database size {await size_of(url)}", flush=True)
        await reports(url, db, cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("pg", "sqlite", "both"), default="both")
    parser.add_argument("--scale", type=float, default=1.0, help="visitors x this")
    parser.add_argument("--days", type=int, default=365, help="calendar days of history")
    parser.add_argument("--reuse", action="store_true", help="time the reports only")
    args = parser.parse_args()
    asyncio.run(run(args.db, args.scale, args.days, args.reuse))


if __name__ == "__main__":
    main()
