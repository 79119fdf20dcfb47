"""Benchmark: the staffing advice checked by the simulator, for one hall over three months.

Target (issue #19): the advice for one hall over three months in under 5 s. This times
the whole answer of ``GET /stats/advice/check`` past the database read: learning the
history (arrival rates per service, weekday and quarter hour; handling times; no-shows;
classes), Erlang C per service and hour, building the two scenarios and simulating each
over 5 seeds. The history is three months of weekdays of the district centre
(deploy/scenarios/district-centre.toml, ~620 visitors a day, 21 windows), itself drawn
by the simulator and turned into the statistics' ticket rows. With ``--database-url``
and ``--hall`` it also times the full path on a real database's history (the read
through ``statistics.service.load`` included).

    .venv/bin/python bench/advice_check.py [--days 65] [--seeds 5] [--repeat 3]
    .venv/bin/python bench/advice_check.py --database-url URL --hall H --from D1 --to D2
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.engine.statistics import advice_check  # noqa: E402
from services.engine.statistics.reports import TicketRow  # noqa: E402
from services.simulator.model import simulate_day  # noqa: E402
from services.simulator.scenario import load_scenario  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
TARGET_SECONDS = 5.0


def history_rows(days: int, first: date) -> tuple[list[TicketRow], advice_check.HallSetup]:
    """``days`` weekdays of the district centre as the statistics' ticket rows."""
    scenario = load_scenario(ROOT / "deploy" / "scenarios" / "district-centre.toml")
    code_of = {i: c for c, i in scenario.service_index().items()}
    targets = {s.code: s.target_wait_minutes * 60 for s in scenario.services}
    rows: list[TicketRow] = []
    day, done, next_id = first, 0, 1
    while done < days:
        if day.weekday() < 5:
            result = simulate_day(scenario, "balanced", 1000 + done)
            midnight = datetime.combine(day, datetime.min.time(), tzinfo=TZ).astimezone(UTC)
            for t in result.tickets:
                issued = midnight + timedelta(seconds=t.arrival)
                called = None if t.called is None else midnight + timedelta(seconds=t.called)
                finished = None if t.finished is None else midnight + timedelta(seconds=t.finished)
                closed = finished
                if t.no_show and called is not None:
                    closed = called + timedelta(minutes=1.5)
                rows.append(
                    TicketRow(
                        id=next_id,
                        service=code_of[t.service_id],
                        window=t.window,
                        staff=None,
                        priority=t.priority.value,
                        source="kiosk",
                        status="no_show" if t.no_show else "done",
                        issued_at=issued,
                        served_call_at=called,
                        called_at=called,
                        started_at=None,
                        finished_at=finished,
                        closed_at=closed,
                        held_seconds=0.0,
                        outcome="done" if not t.no_show else None,
                        transferred_from=None,
                        ever_held=False,
                        target_seconds=targets[code_of[t.service_id]],
                    )
                )
                next_id += 1
            done += 1
        day += timedelta(days=1)
    setup = advice_check.HallSetup(
        services=[
            advice_check.ServiceSetup(
                s.code, s.name, s.target_wait_minutes * 60, s.handle_minutes * 60
            )
            for s in scenario.services
        ],
        windows=[
            advice_check.WindowSetup(n, w.name or str(n), w.primary(), w.secondaries())
            for w in scenario.windows
            for n in w.window_numbers()
        ],
        sessions={d: ((9 * 60, 17 * 60),) for d in range(5)},
        interleave=scenario.scenario.interleave,
    )
    return rows, setup


def time_pure(
    rows: list[TicketRow], setup: advice_check.HallSetup, first: date, last: date, seeds: int
) -> tuple[float, advice_check.Check]:
    started = time.perf_counter()
    history = advice_check.learn(
        rows,
        first=first,
        last=last,
        tz=TZ,
        default_handle={s.code: s.default_handle_seconds for s in setup.services},
    )
    found = advice_check.check(history, setup, seeds=range(1, seeds + 1))
    return time.perf_counter() - started, found


async def time_database(
    url: str, hall_code: str, first: date, last: date, seeds: int, repeat: int
) -> tuple[float, float, int]:
    """The whole answer (read included), best of ``repeat``; and the read alone."""
    import services.engine.models  # noqa: F401  (every table known to the ORM)
    from services.engine.core.db import make_engine, make_sessionmaker
    from services.engine.halls.service import get_hall
    from services.engine.statistics import simulation
    from services.engine.statistics.service import Filters, load

    engine = make_engine(url)
    whole, read, tickets = [], [], 0
    try:
        for _ in range(repeat):
            async with make_sessionmaker(engine)() as session:
                started = time.perf_counter()
                found = await simulation.advice_check_by_code(
                    session=session, hall_code=hall_code, first=first, last=last, seeds=seeds
                )
                whole.append(time.perf_counter() - started)
                tickets = found.check.history.tickets
            async with make_sessionmaker(engine)() as session:
                hall = await get_hall(session=session, code=hall_code)
                started = time.perf_counter()
                await load(session=session, hall=hall, first=first, last=last, filters=Filters())
                read.append(time.perf_counter() - started)
        return min(whole), min(read), tickets
    finally:
        await engine.dispose()


def show(found: advice_check.Check) -> None:
    for result in (found.today, found.advice):
        o = result.overall
        mean = (o.mean_seconds or 0) / 60
        p90 = (o.p90_seconds or 0) / 60
        print(
            f"  {result.name:<7} {result.windows:3d} windows "
            f"{result.window_hours:6.1f} window-hours"
            f"  mean {mean:5.1f} min  p90 {p90:5.1f} min  over target {o.over_target or 0:6.1%}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=65, help="weekdays of history (3 months)")
    parser.add_argument("--seeds", type=int, default=advice_check.DEFAULT_SEEDS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url")
    parser.add_argument("--hall")
    parser.add_argument("--from", dest="first", type=date.fromisoformat)
    parser.add_argument("--to", dest="last", type=date.fromisoformat)
    args = parser.parse_args(argv)
    if args.database_url:
        if not (args.hall and args.first and args.last):
            parser.error("--database-url needs --hall, --from and --to")
        took, read, tickets = asyncio.run(
            time_database(
                args.database_url, args.hall, args.first, args.last, args.seeds, args.repeat
            )
        )
        print(
            f"advice + simulator check, {args.hall} {args.first}..{args.last} ({tickets} "
            f"tickets): {took:.2f} s, of which reading the period {read:.2f} s"
        )
        ok = took < TARGET_SECONDS
        print(f"{'PASS' if ok else 'FAIL'}  under {TARGET_SECONDS} s")
        return 0 if ok else 1
    first = date(2026, 9, 1)
    rows, setup = history_rows(args.days, first)
    last = first + timedelta(days=args.days * 7 // 5 + 3)
    times = []
    found = None
    for _ in range(args.repeat):
        took, found = time_pure(rows, setup, first, last, args.seeds)
        times.append(took)
    assert found is not None
    best, worst = min(times), max(times)
    print(
        f"{len(rows)} tickets, {args.days} weekdays, {len(setup.windows)} windows, "
        f"{args.seeds} seeds: best {best:.2f} s, worst {worst:.2f} s (target < {TARGET_SECONDS} s)"
    )
    show(found)
    ok = worst < TARGET_SECONDS
    print(
        f"{'PASS' if ok else 'FAIL'}  advice checked by the simulator in under {TARGET_SECONDS} s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
