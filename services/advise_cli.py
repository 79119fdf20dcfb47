"""``jiaohao advise`` (the simulator's check of the advice) and ``jiaohao replay`` (a past
day replayed with other windows or another policy): the printing and the arguments."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.engine.statistics.advice_check import StaffingResult, WaitFigures
    from services.engine.statistics.replay import Replay, Run, WindowChange
    from services.engine.statistics.simulation import AdviceCheck

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _pad(text: str, width: int) -> str:
    """Left-aligned in a terminal's columns (a Chinese character takes two)."""
    used = sum(2 if ord(ch) >= 0x2E80 else 1 for ch in text)
    return text + " " * max(0, width - used)


def _line(label: str, f: WaitFigures, width: int = 22) -> str:
    verdict = {True: "meets", False: "MISSES", None: "-"}[f.meets]
    return (
        f"  {_pad(label, width)}{f.called:>7}{_minutes(f.mean_seconds):>8}"
        f"{_minutes(f.p90_seconds):>8}{_share(f.over_target):>8}  {verdict}"
    )


def print_check(found: AdviceCheck, service_level: float) -> None:
    """The comparison with today's windows and the simulator's check, after the advice."""
    c = found.check
    h = c.history
    names = found.data.service_names
    day = "a typical weekday" if c.weekday is None else f"a {WEEKDAYS[c.weekday]}"
    from services.engine.statistics.advice_check import span_text

    print(
        f"\nWindows per hour, advice (all services) against today's "
        f"(hall open {', '.join(span_text(s) for s in c.sessions)}):"
    )
    print("  hour  advice  today")
    advice: dict[int, int] = {}
    for needs in c.needs.values():
        for n in needs:
            advice[n.hour] = advice.get(n.hour, 0) + n.windows
    for hour in sorted(advice):
        open_now = any(a < hour * 60 + 60 and b > hour * 60 for a, b in c.sessions)
        print(f"  {hour:02d}    {advice[hour]:6d}  {c.today.windows if open_now else 0:5d}")
    print(
        f"\nChecked by the simulator: {day} learned from {h.tickets} tickets over "
        f"{(h.last - h.first).days + 1} days ({h.weekdays} weekdays), balanced calling, "
        f"seeds {c.today.seeds[0]}-{c.today.seeds[-1]}; no-shows {h.no_show_share:.0%} "
        f"({h.no_show_minutes:.1f} min each), favoured "
        f"{h.priority_share + h.appointment_share:.0%}, green {h.green_share:.0%}"
    )
    for result in (c.today, c.advice):
        _print_staffing(result, names, service_level)


def _print_staffing(r: StaffingResult, names: dict[str, str], level: float) -> None:
    title = "today's windows" if r.name == "today" else "the advice's windows"
    utilisation = "-" if r.utilisation is None else f"{r.utilisation:.0%}"
    print(
        f"\n{title}: {r.windows} windows, {r.window_hours:.1f} window-hours, "
        f"utilisation {utilisation}; within target for {level:.0%}?"
    )
    print(f"  {'service':<22}{'called':>7}{'mean':>8}{'p90':>8}{'over':>8}")
    for code, f in r.services.items():
        print(_line(names.get(code, code), f))
    print(_line("all services", r.overall))
    if r.unserved:
        print("  left out (no window serves them): " + ", ".join(r.unserved))


# --- replay --------------------------------------------------------------------------------


def parse_window(text: str) -> WindowChange:
    """``3:own=business,estate:help=tax=0.5:open=08:30-12:00,14:00-17:30`` or ``3:closed``:
    ``own=`` sets the window's own services, ``help=`` adds services it helps (weight 0.5
    unless given), ``open=`` its open hours that day, ``closed`` not open that day."""
    from services.engine.statistics.replay import WindowChange

    number_text, *parts = text.split(":", 1)
    try:
        number = int(number_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: begin with the window's number") from None
    own: dict[str, float] | None = None
    helps: dict[str, float] | None = None
    hours: list[str] | None = None
    closed = False
    rest = parts[0] if parts else ""
    # open=HH:MM-HH:MM holds colons: split on ":own=", ":help=", ":open=" markers.
    for chunk in _chunks(rest):
        key, _, value = chunk.partition("=")
        if key == "closed" and not value:
            closed = True
        elif key in ("own", "help"):
            weights = {}
            for item in filter(None, value.split(",")):
                code, _, weight = item.partition("=")
                try:
                    weights[code] = float(weight) if weight else (1.0 if key == "own" else 0.5)
                except ValueError:
                    raise argparse.ArgumentTypeError(f"{item!r}: a weight is a number") from None
            if key == "own":
                own = weights
            else:
                helps = weights
        elif key == "open":
            hours = [v for v in value.split(",") if v]
        else:
            raise argparse.ArgumentTypeError(f"{chunk!r}: use own=, help=, open= or closed")
    return WindowChange(
        number, primary=own, add_secondary=helps or {}, open_hours=hours, closed=closed
    )


def _chunks(text: str) -> list[str]:
    out: list[str] = []
    for piece in text.split(":"):
        if out and not any(piece.startswith(k) for k in ("own=", "help=", "open=", "closed")):
            out[-1] += ":" + piece
        elif piece:
            out.append(piece)
    return out


def add_replay(sub: Any, run_db: Any) -> None:
    replay = sub.add_parser(
        "replay",
        help="replay a past day with other windows or another calling policy (what if)",
        description=(
            "Replays a past day's real citizens with that day's windows and with the changes "
            "given, beside what happened. --window 3:help=estate (window 3 helps 不动产), "
            "--window 9:own=estate:open=09:00-12:00 (a new window), --window 4:closed."
        ),
    )
    replay.add_argument("--hall", required=True)
    replay.add_argument("--day", required=True, help="the day, 2026-11-02")
    replay.add_argument("--policy", choices=["balanced", "fifo", "dedicated"])
    replay.add_argument("--window", action="append", default=[], type=parse_window)
    replay.add_argument("--handling", choices=["actual", "drawn"], default="actual")
    replay.add_argument("--seeds", type=int, default=1)
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(func=lambda args: cmd_replay(args, run_db))


def cmd_replay(args: argparse.Namespace, run_db: Any) -> int:
    from services.engine.core.errors import Refusal
    from services.engine.halls.service import get_hall
    from services.engine.statistics import replay, simulation

    try:
        day = date.fromisoformat(args.day)
    except ValueError as err:
        print(f"jiaohao replay: {err} (give the day as 2026-11-02)", file=sys.stderr)
        return 2
    what_if = replay.WhatIf(
        policy=args.policy, windows=args.window, handling=args.handling, seeds=args.seeds
    )

    async def work(session: Any) -> tuple[Replay, dict[str, str]]:
        hall = await get_hall(session=session, code=args.hall)
        return await simulation.replay_day(session=session, hall=hall, day=day, what_if=what_if)

    try:
        found, names = run_db(work)
    except Refusal as err:
        print(f"jiaohao replay: {err.detail} ({err.code})", file=sys.stderr)
        return 2
    if args.json:
        from services.engine.statistics.simulation_router import replay_out

        print(
            json.dumps(
                replay_out(args.hall, found, names).model_dump(mode="json"),
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    left = ", ".join(f"{n} {s}" for s, n in sorted(found.left_out.items())) or "none"
    print(
        f"{args.hall} {day}: {found.tickets} citizens replayed (every ticket called that day; "
        f"not called: {left})"
    )
    for label, run in (
        ("what happened", found.real),
        (f"replayed as it was ({found.same.policy})", found.same),
        (f"what if ({found.what_if.policy})", found.what_if),
    ):
        _print_run(label, run, names)
    changed = [w for w in found.what_if.windows if w.changed]
    if changed:
        from services.engine.statistics.advice_check import span_text

        print("\nchanged windows:")
        for w in changed:
            hours = ", ".join(span_text(s) for s in w.spans) or "closed"
            own = ", ".join(names.get(c, c) for c in w.primary) or "-"
            helps = ", ".join(names.get(c, c) for c in w.secondary) or "-"
            print(f"  {w.number}: own {own}; helps {helps}; open {hours}")
    for note in found.notes:
        print(f"note: {note}")
    return 0


def _print_run(label: str, run: Run, names: dict[str, str]) -> None:
    print(f"\n{label}:")
    print(f"  {'service':<22}{'called':>7}{'mean':>8}{'p90':>8}{'over':>8}")
    for code, f in run.services.items():
        print(_line(names.get(code, code), f))
    print(_line("all services", run.figures))
