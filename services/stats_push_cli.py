"""``jiaohao stats push``: a village station sends its closed days' figures to its
district's engine (docs/statistics.md, "Village stations: stats push").

Runs on the station, against its own database: catches the station's rollup up, reads
each closed day's facts (nothing personal: statistics/push_rules.py) and PUTs each
hall-day to ``{URL}/api/v1/halls/{hall}/stats/days/{date}`` with the station device's
token (from ``JIAOHAO_STATION_TOKEN`` or ``--token-file``, never from the command line,
never printed). A day is replaced as a whole, so a retry or a re-send is safe.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

TOKEN_ENV = "JIAOHAO_STATION_TOKEN"
# Attempts per day when the district does not answer or answers 5xx / 429.
ATTEMPTS = 4
# A refusal that every other day would get too: stop at the first.
FATAL = {401, 403, 404}


def add_stats(sub: Any, run_db: Any) -> None:
    stats = sub.add_parser("stats", help="statistics tools").add_subparsers(
        dest="stats_command", required=True
    )
    push = stats.add_parser(
        "push",
        help="send this station's closed days' figures to the district's engine",
        description=(
            "Sends each closed business day's figures (no personal data) of this station's "
            "hall to the district's engine, one request per day; a day sent again replaces "
            f"the one sent before. The station device's token: ${TOKEN_ENV} or --token-file."
        ),
    )
    push.add_argument("--to", dest="url", required=True, help="the district engine, https://...")
    push.add_argument("--hall", help="this station's hall code (default: its only hall)")
    days = push.add_mutually_exclusive_group()
    days.add_argument("--days", type=int, help="the last N closed days (default 7)")
    days.add_argument("--from", dest="first", help="first day, 2026-11-01 (with --until)")
    push.add_argument("--until", dest="last", help="last day, included (default yesterday)")
    push.add_argument(
        "--token-file", type=Path, help=f"a file holding the token (else ${TOKEN_ENV})"
    )
    push.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    push.add_argument(
        "--dry-run", action="store_true", help="print what would be sent, send nothing"
    )
    push.set_defaults(func=lambda args: cmd_push(args, run_db))


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file is not None:
        try:
            return str(args.token_file.read_text(encoding="utf-8").strip()) or None
        except OSError as err:
            print(
                f"jiaohao stats push: cannot read the token file: {err.strerror}", file=sys.stderr
            )
            return None
    return os.environ.get(TOKEN_ENV) or None


def _period(args: argparse.Namespace, yesterday: date) -> tuple[date, date]:
    if args.first is not None:
        first = date.fromisoformat(args.first)
        last = date.fromisoformat(args.last) if args.last else yesterday
        return first, last
    last = date.fromisoformat(args.last) if args.last else yesterday
    n = args.days if args.days is not None else 7
    if not 1 <= n <= 400:
        raise ValueError("--days: 1 to 400")
    return last - timedelta(days=n - 1), last


def cmd_push(args: argparse.Namespace, run_db: Any) -> int:
    from zoneinfo import ZoneInfo

    from services.engine.core.db import utcnow
    from services.engine.core.errors import Refusal
    from services.engine.halls import repository as halls_repo
    from services.engine.halls.service import get_hall
    from services.engine.statistics import push, push_rules

    token = None if args.dry_run else _token(args)
    if token is None and not args.dry_run:
        print(
            f"jiaohao stats push: no token: set ${TOKEN_ENV} or give --token-file "
            "(the district's admin issues it: jiaohao device add --kind station)",
            file=sys.stderr,
        )
        return 2

    async def work(session: Any) -> tuple[str, list[push.StationDay]]:
        if args.hall:
            hall = await get_hall(session=session, code=args.hall)
        else:
            local = [h for h in await halls_repo.list_halls(session) if not h.remote]
            if len(local) != 1:
                raise Refusal(f"this engine has {len(local)} halls: name one with --hall")
            hall = local[0]
        yesterday = utcnow().astimezone(ZoneInfo(hall.timezone)).date() - timedelta(days=1)
        first, last = _period(args, yesterday)
        return hall.code, await push.station_days(
            session=session, hall=hall, first=first, last=last
        )

    try:
        hall, days = run_db(work)
    except ValueError as err:
        print(f"jiaohao stats push: {err} (give dates as 2026-11-01)", file=sys.stderr)
        return 2
    except Refusal as err:
        print(f"jiaohao stats push: {err.detail}", file=sys.stderr)
        return 2
    if not days:
        print(f"hall {hall}: no closed day with figures in that period")
        return 0
    base = args.url.rstrip("/")
    failed = 0
    import httpx

    with httpx.Client(timeout=args.timeout) as client:
        for i, day in enumerate(days):
            if day.figures is None:
                print(f"{day.business_date}  skipped   {day.note}")
                failed += 1
                continue
            body = push_rules.encoded(day.figures)
            if (
                len(day.figures.tickets) > push_rules.MAX_TICKETS
                or len(body) > push_rules.MAX_BODY_BYTES
            ):
                print(
                    f"{day.business_date}  not sent  {len(day.figures.tickets)} tickets, "
                    f"{len(body)} bytes: a day takes at most {push_rules.MAX_TICKETS} tickets "
                    f"and {push_rules.MAX_BODY_BYTES} bytes",
                    file=sys.stderr,
                )
                failed += 1
                continue
            counts = (
                f"tickets {len(day.figures.tickets):4d}  window lines {len(day.figures.windows)}"
            )
            if args.dry_run:
                print(f"{day.business_date}  would send  {counts}  ({len(body)} bytes)")
                continue
            url = f"{base}/api/v1/halls/{quote(hall, safe='')}/stats/days/{day.business_date}"
            status, answer = _put(client, url, body, token or "")
            if status == 200:
                print(f"{day.business_date}  {answer['result']:<9} {counts}")
                continue
            failed += 1
            print(f"{day.business_date}  refused   {_why(status, answer)}", file=sys.stderr)
            if status in FATAL or answer.get("code") == "not_a_station":
                left = len(days) - i - 1
                if left:
                    print(f"stopped: {left} more days not sent", file=sys.stderr)
                break
    return 1 if failed else 0


def _put(client: Any, url: str, body: bytes, token: str) -> tuple[int, dict[str, Any]]:
    """PUT with retries on no answer, 5xx and 429 (a day replaced whole: safe to repeat)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, answer = 0, {"detail": "no answer"}
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(min(2**attempt, 10))
        try:
            response = client.put(url, content=body, headers=headers)
        except httpx.HTTPError as err:
            status, answer = 0, {"detail": f"no answer ({type(err).__name__})"}
            continue
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = {"detail": response.text[:200]}
        if status < 500 and status != 429:
            break
    return status, answer if isinstance(answer, dict) else {"detail": str(answer)[:200]}


def _why(status: int, answer: dict[str, Any]) -> str:
    code = answer.get("code", "")
    return f"{status} {code}: {answer.get('detail', '')}".strip()
