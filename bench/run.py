"""`make bench`: the engine against the database's own limit, on PostgreSQL.

Measures, in one run on this machine:
1. pgbench running the engine's issue-ticket transaction (bench/issue_ticket.pgbench);
2. the engine issuing tickets over HTTP with a kiosk token at 32 and 64 clients
   (wrk, bench/issue.lua), and call-next throughput over 40 windows (bench/call_next.lua);
3. call-to-screen latency over WebSockets across 2 engine processes (bench/ws.py);
4. memory per idle WebSocket connection;
5. a kiosk's GET /queues while twenty wrong logins run at once (Argon2 off the loop).
Prints one table and writes bench/results/latest.json. Only loopback is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
PG_ADMIN = os.environ.get(
    "JIAOHAO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = "jiaohao_bench"
# bench/bench-hall.toml's timezone: call-next serves the hall's business day.
BENCH_TIMEZONE = "Asia/Shanghai"
# Waiting tickets for the call-next run: a very busy hall's whole day, all waiting at once.
CALL_NEXT_QUEUE = 4_000
SECRET_ENV = {
    "JIAOHAO_ENVIRONMENT": "production",
    "JIAOHAO_SECRET_KEY": "bench-secret-key-0123456789abcdef",
    "JIAOHAO_PII_KEY": "bench-pii-key-0123456789abcdef",
    "JIAOHAO_LOG_LEVEL": "warning",
    "JIAOHAO_ACCESS_LOG": "false",
}


def db_url(driver: str = "postgresql") -> str:
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{DB_NAME}".replace("postgresql://", f"{driver}://", 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None and tool == "wrk" and os.geteuid() == 0:
        print("installing wrk from Debian's packages ...", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
        path = shutil.which(tool)
    if path is None:
        package = "postgresql-client" if tool == "pgbench" else tool
        sys.exit(f"bench needs `{tool}` (Debian package {package})")
    return path


async def admin(sql: str, url: str = PG_ADMIN) -> None:
    """One statement on the server (its admin database unless ``url`` says otherwise)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class Setup:
    hall_id: int
    pg_hall_id: int
    service_ids: list[int]
    pg_service_ids: list[int]
    kiosk_token: str
    gateway_token: str
    display_token: str


async def setup_database() -> Setup:
    """A fresh database: migrated, the bench hall twice (engine / pgbench), device tokens."""
    await admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    await admin(f'CREATE DATABASE "{DB_NAME}"')
    from services.engine.migrate import upgrade

    await asyncio.to_thread(upgrade, db_url("postgresql+asyncpg"))
    import services.engine.models
    from services.engine.auth import service as auth_service
    from services.engine.auth.permissions import DeviceKind
    from services.engine.core.db import make_engine, make_sessionmaker
    from services.engine.halls.repository import services_of
    from services.engine.halls.service import get_hall
    from services.engine.setup.apply import apply_hall_file
    from services.engine.setup.hall_file import parse_hall_file

    text = (BENCH / "bench-hall.toml").read_text(encoding="utf-8")
    engine = make_engine(db_url("postgresql+asyncpg"))
    tokens: dict[str, str] = {}
    async with make_sessionmaker(engine)() as session:
        spec = parse_hall_file(text)
        await apply_hall_file(session=session, spec=spec)
        pg_spec = spec.model_copy(update={"hall": spec.hall.model_copy(update={"code": "benchpg"})})
        await apply_hall_file(session=session, spec=pg_spec)
        hall = await get_hall(session=session, code="bench")
        pg_hall = await get_hall(session=session, code="benchpg")
        for kind in (DeviceKind.KIOSK, DeviceKind.GATEWAY, DeviceKind.DISPLAY):
            created = await auth_service.add_device(
                session=session, hall=hall, kind=kind, name=f"bench-{kind.value}"
            )
            tokens[kind.value] = created.token
        services = [s.id for s in await services_of(session, hall.id)]
        pg_services = [s.id for s in await services_of(session, pg_hall.id)]
    await engine.dispose()
    return Setup(
        hall.id,
        pg_hall.id,
        services,
        pg_services,
        tokens["kiosk"],
        tokens["gateway"],
        tokens["display"],
    )


def run_pgbench(setup: Setup, clients: int, duration: int) -> dict[str, float]:
    """pgbench's own rate for the issue transaction."""
    out = subprocess.run(
        [
            need("pgbench"),
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(duration),
            "-f",
            str(BENCH / "issue_ticket.pgbench"),
            "-D",
            f"hall={setup.pg_hall_id}",
            "-D",
            f"svc_min={min(setup.pg_service_ids)}",
            "-D",
            f"svc_max={max(setup.pg_service_ids)}",
            db_url(),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))  # type: ignore[union-attr]
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return {
        "tps": tps,
        "latency_avg_ms": latency,
        "failed": float(failed.group(1)) if failed else 0.0,
    }


@contextmanager
def engine_processes(count: int, workers: int) -> Iterator[tuple[list[str], list[int]]]:
    """Start `count` engine servers (each with `workers` processes) on loopback."""
    env = {
        **os.environ,
        **SECRET_ENV,
        "JIAOHAO_DATABASE_URL": db_url("postgresql+asyncpg"),
        # 20 (and as many again in overflow) per process: the server's 100
        # connections hold two processes at their peak next to pgbench's leftovers.
        "JIAOHAO_DATABASE_POOL_SIZE": "20",
        # The paced kiosks wait up to ~15 s between citizens: keep their connections, or
        # wrk counts each one the engine closed meanwhile as a read error.
        "JIAOHAO_HTTP_KEEP_ALIVE_SECONDS": "75",
    }
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for _ in range(count):
            port = free_port()
            procs.append(
                subprocess.Popen(
                    [
                        str(ROOT / ".venv/bin/jiaohao"),
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--workers",
                        str(workers),
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_ready(url)
        yield urls, [p.pid for p in procs]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"engine at {url} did not become ready")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(out: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    result = {"rps": rps}
    for pct in ("50", "90", "99"):
        match = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match:
            result[f"p{pct}_ms"] = float(match.group(1)) * _UNITS[match.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["non_2xx"] = float(bad.group(1)) if bad else 0.0
    result["socket_errors"] = float(sum(int(g) for g in errors.groups())) if errors else 0.0
    total = re.search(r"(\d+) requests in", out)
    result["requests"] = float(total.group(1)) if total else 0.0
    return result


def run_wrk(
    url: str, script: str, clients: int, duration: int, env: dict[str, str], threads: int = 2
) -> dict[str, float]:
    out = subprocess.run(
        [
            need("wrk"),
            "-t",
            str(threads),
            "-c",
            str(clients),
            "-d",
            f"{duration}s",
            "--latency",
            "-s",
            str(BENCH / script),
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    if out.stderr.strip():
        # The scripts report their first refusal there (status and problem body).
        print(out.stderr.strip(), file=sys.stderr)
    return parse_wrk(out.stdout)


async def fill_queue(setup: Setup, tickets: int) -> None:
    """Waiting tickets of today and open windows for call-next runs (written directly, fast).

    Numbers continue each service's counter for today, after the tickets the issue runs took.
    """
    today = datetime.now(ZoneInfo(BENCH_TIMEZONE)).date()
    conn = await asyncpg.connect(db_url())
    try:
        per = tickets // len(setup.service_ids)
        for service_id in setup.service_ids:
            await conn.execute(
                """
                WITH c AS (
                  INSERT INTO ticket_counters (hall_id, service_id, business_date, last_sequence)
                  VALUES ($1, $2, $4, $3)
                  ON CONFLICT (hall_id, service_id, business_date)
                  DO UPDATE SET last_sequence = ticket_counters.last_sequence + $3
                  RETURNING last_sequence)
                INSERT INTO tickets (hall_id, service_id, origin_service_id, business_date,
                                     sequence, number, priority, source, status, recall_count,
                                     requeue_count, queued_at, issued_at)
                SELECT $1, $2, $2, $4, c.last_sequence - $3 + g, 'Q' || (c.last_sequence - $3 + g),
                       'normal', 'kiosk', 'waiting', 0, 0,
                       now() - interval '1 hour' + g * interval '1 millisecond', now()
                FROM c, generate_series(1, $3) AS g
                """,
                setup.hall_id,
                service_id,
                per,
                today,
            )
        await conn.execute("UPDATE windows SET state = 'idle' WHERE hall_id = $1", setup.hall_id)
    finally:
        await conn.close()


async def login_storm(url: str, token: str, rounds: int = 4, logins: int = 20) -> dict[str, Any]:
    """A kiosk reads the queues again and again while ``logins`` wrong logins (no account
    needed) run at once: with Argon2 on the event loop it waited behind all of them.
    Each round's usernames are new, and 4 x 20 failures stay under one address's limit."""
    import statistics

    queues = f"{url}/api/v1/halls/bench/queues"
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=logins + 4)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:

        async def read() -> float:
            started = time.perf_counter()
            (await http.get(queues, headers=headers)).raise_for_status()
            return (time.perf_counter() - started) * 1000

        for _ in range(5):
            await read()  # warm-up
        alone = [await read() for _ in range(30)]
        during: list[float] = []
        storms: list[float] = []
        for round_no in range(rounds):
            started = time.perf_counter()
            storm = [
                asyncio.create_task(
                    http.post(
                        f"{url}/api/v1/auth/token",
                        data={"username": f"storm-{round_no}-{i}", "password": "wrong password"},
                    )
                )
                for i in range(logins)
            ]
            await asyncio.sleep(0.05)  # let the logins reach the engine first
            while not all(task.done() for task in storm):
                during.append(await read())
            answers = await asyncio.gather(*storm)
            assert all(a.status_code == 401 for a in answers), [a.status_code for a in answers]
            storms.append((time.perf_counter() - started) * 1000)
    during.sort()
    return {
        "queues_alone_p50_ms": statistics.median(alone),
        "queues_during_p50_ms": statistics.median(during),
        "queues_during_p99_ms": during[min(len(during) - 1, int(len(during) * 0.99))],
        "queues_during_max_ms": during[-1],
        "reads_during": len(during),
        "logins_all_answered_ms": statistics.median(storms),
    }


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run")
    parser.add_argument("--workers", type=int, default=2, help="engine worker processes")
    parser.add_argument("--sockets", default="1000,5000", help="WebSocket screen counts")
    parser.add_argument(
        "--kiosk-rates",
        default="10,100",
        help="requests per second the 32 kiosks of the paced latency rows offer together",
    )
    parser.add_argument("--skip-ws", action="store_true")
    parser.add_argument(
        "--screen-processes", type=int, default=4, help="processes the WebSocket screens run in"
    )
    parser.add_argument(
        "--screen-client",
        choices=["lean", "websockets"],
        default="lean",
        help="WebSocket client of the screens (bench/ws.py says why lean)",
    )
    parser.add_argument(
        "--only",
        choices=["ws", "logins"],
        help="run one part only (ws: call-to-screen latency and idle-socket memory; "
        "logins: a kiosk's reads during a login storm)",
    )
    args = parser.parse_args(argv)
    http_parts = args.only is None
    if http_parts:
        need("pgbench")
        need("wrk")
    started = datetime.now(UTC)
    setup = asyncio.run(setup_database())
    results: dict[str, Any] = {"started": started.isoformat(), "machine": {"cores": os.cpu_count()}}

    if http_parts:
        # 1 client too: the transaction's rate without waiters on the hall's rows.
        results["pgbench"] = {str(c): run_pgbench(setup, c, args.duration) for c in (1, 32, 64)}
        with engine_processes(1, args.workers) as ([url], _pids):
            env = {"JH_TOKEN": setup.kiosk_token, "JH_HALL": "bench"}
            run_wrk(url, "issue.lua", 32, 2, env)  # warm-up: connections, caches, JIT-free paths
            # 32 kiosks at stated rates, above a hall's (3 req/s: one citizen per kiosk
            # every 10 s): the latency kiosks see in service, before the queue of the
            # saturated runs below grows to thousands. Low rates run longer, so that
            # their p99 rests on a few hundred requests.
            results["issue_at_rate"] = {}
            for rate in sorted(float(r) for r in args.kiosk_rates.split(",")):
                at_rate = run_wrk(
                    url,
                    "issue.lua",
                    32,
                    max(args.duration, round(300 / rate)),
                    {**env, "JH_DELAY_MS": str(round(32 * 1000 / rate))},
                )
                at_rate["offered_rps"] = rate
                results["issue_at_rate"][f"{rate:g}"] = at_rate
            results["issue"] = {
                str(c): run_wrk(url, "issue.lua", c, args.duration, env) for c in (32, 64)
            }
            # The same 32 clients paced at half the saturated rate: the latency a hall sees
            # below saturation (a closed loop at saturation waits clients / rate per request).
            paced_rate = max(results["issue"]["32"]["rps"] * 0.5, 1.0)
            results["issue_paced"] = run_wrk(
                url,
                "issue.lua",
                32,
                args.duration,
                {**env, "JH_DELAY_MS": str(round(32 * 1000 / paced_rate))},
            )
            results["issue_paced"]["offered_rps"] = paced_rate
            asyncio.run(fill_queue(setup, CALL_NEXT_QUEUE))
            # As before the screens: the issue runs' rows are vacuumed first, so that
            # autovacuum does not take the cores while the windows are timed.
            asyncio.run(admin("VACUUM ANALYZE", db_url()))
            # A wrk thread and a connection for each window: a window's keypad calls
            # again once its last call is answered, as in a hall.
            results["call_next"] = run_wrk(
                url,
                "call_next.lua",
                40,
                args.duration,
                {
                    "JH_TOKEN": setup.gateway_token,
                    "JH_HALL": "bench",
                    "JH_WINDOWS": "40",
                    "JH_THREADS": "40",
                },
                threads=40,
            )
    if http_parts or args.only == "logins":
        with engine_processes(1, 1) as ([url], _pids):
            results["login_storm"] = asyncio.run(login_storm(url, setup.kiosk_token))
    if (http_parts and not args.skip_ws) or args.only == "ws":
        try:
            from bench import ws
        except ImportError as err:
            results["ws"] = {"skipped": f"WebSocket bench unavailable: {err}"}
        else:
            counts = [int(n) for n in args.sockets.split(",")]
            if http_parts:
                # The issue runs leave ~15,000 new rows behind: vacuum them now rather
                # than have autovacuum take the cores while the screens are timed.
                asyncio.run(admin("VACUUM ANALYZE", db_url()))
            # One process each, so their memory is the engine's own (RSS of the server process).
            with engine_processes(2, 1) as (urls, pids):
                results["ws"] = asyncio.run(
                    ws.measure(urls, pids, setup, counts, args.screen_processes, args.screen_client)
                )

    rows: list[tuple[str, str]] = []
    if http_parts:
        alone = results["pgbench"]["1"]
        rows.append(
            (
                "pgbench issue transaction, 1 client",
                f"{alone['tps']:.0f} tps (avg {alone['latency_avg_ms']:.2f} ms)",
            )
        )
    for c in ("32", "64") if http_parts else ():
        pg = results["pgbench"][c]
        issue = results["issue"][c]
        ratio = issue["rps"] / pg["tps"] if pg["tps"] else 0.0
        results["issue"][c]["ratio_to_pgbench"] = ratio
        rows.append(
            (
                f"pgbench issue transaction, {c} clients",
                f"{pg['tps']:.0f} tps (avg {pg['latency_avg_ms']:.2f} ms)",
            )
        )
        rows.append(
            (
                f"engine issue over HTTP, {c} clients",
                f"{issue['rps']:.0f} req/s, p50 {issue.get('p50_ms', 0):.1f} ms, "
                f"p99 {issue.get('p99_ms', 0):.1f} ms, non-2xx {issue['non_2xx']:.0f}",
            )
        )
        # pgbench's rate falls as its clients pile onto the hall's rows; the engine queues
        # its issuers in-process instead. So show the ratio to pgbench's 1-client rate too.
        best = results["pgbench"]["1"]["tps"]
        results["issue"][c]["ratio_to_pgbench_1_client"] = issue["rps"] / best if best else 0.0
        rows.append(
            (
                f"engine / pgbench, {c} clients",
                f"{ratio:.2f}  (target >= 0.5); "
                f"{results['issue'][c]['ratio_to_pgbench_1_client']:.2f} of pgbench at 1 client",
            )
        )
    if http_parts:
        for at_rate in results["issue_at_rate"].values():
            rows.append(
                (
                    f"engine issue, 32 kiosks offering {at_rate['offered_rps']:g} req/s",
                    f"{at_rate['rps']:.0f} req/s, p50 {at_rate.get('p50_ms', 0):.1f} ms, "
                    f"p90 {at_rate.get('p90_ms', 0):.1f} ms, "
                    f"p99 {at_rate.get('p99_ms', 0):.1f} ms, "
                    f"non-2xx {at_rate['non_2xx']:.0f}, "
                    f"socket errors {at_rate['socket_errors']:.0f}",
                )
            )
        paced = results["issue_paced"]
        rows.append(
            (
                "engine issue, 32 clients paced",
                f"{paced['rps']:.0f} req/s offered {paced['offered_rps']:.0f}, "
                f"p50 {paced.get('p50_ms', 0):.1f} ms, p99 {paced.get('p99_ms', 0):.1f} ms",
            )
        )
        cn = results["call_next"]
        rows.append(
            (
                "call-next, 40 windows, 40 clients",
                f"{cn['rps']:.0f} req/s, p99 {cn.get('p99_ms', 0):.1f} ms, "
                f"non-2xx {cn['non_2xx']:.0f}",
            )
        )
    storm = results.get("login_storm")
    if storm is not None:
        rows.append(
            (
                "GET /queues (kiosk), alone",
                f"p50 {storm['queues_alone_p50_ms']:.1f} ms",
            )
        )
        rows.append(
            (
                "GET /queues during 20 wrong logins",
                f"p50 {storm['queues_during_p50_ms']:.1f} ms, "
                f"p99 {storm['queues_during_p99_ms']:.1f} ms, "
                f"max {storm['queues_during_max_ms']:.1f} ms ({storm['reads_during']} reads); "
                f"the 20 logins answered in {storm['logins_all_answered_ms']:.0f} ms",
            )
        )
    ws_result = results.get("ws", {})
    if "skipped" in ws_result:
        rows.append(("WebSocket screens", ws_result["skipped"]))
    for key, value in ws_result.items():
        if key.startswith("screens_"):
            rows.append(
                (
                    f"call-to-screen, {key[8:]} screens",
                    f"p50 {value['p50_ms']:.1f} ms, p99 {value['p99_ms']:.1f} ms, "
                    f"max {value['max_ms']:.1f} ms, "
                    f"received {value['received']}/{value['expected']}",
                )
            )
            rows.append(
                (
                    f"  {value['screen_processes']} screen processes ({value['screen_client']})",
                    ", ".join(
                        f"{'calling' if e == '0' else 'other'} p99 {v['p99_ms']:.1f} ms"
                        for e, v in value["by_engine"].items()
                    )
                    + f"; screens' loop lag p99 {value['client_loop_lag_p99_ms']:.1f} ms",
                )
            )
    if "idle_socket_kb" in ws_result:
        rows.append(
            ("memory per idle socket", f"{ws_result['idle_socket_kb']:.1f} KB (target <= 30)")
        )
    results["finished"] = datetime.now(UTC).isoformat()
    print(table(rows))
    RESULTS.mkdir(exist_ok=True)
    # A partial run must not overwrite the full run's figures.
    written = RESULTS / ("latest.json" if http_parts else f"latest-{args.only}.json")
    written.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nwritten {written}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
