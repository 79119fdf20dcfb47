"""The ``jiaohao`` command."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.config import get_settings

T = TypeVar("T")


def _run_db(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    import services.engine.models  # noqa: F401  (every table known to the ORM)
    from services.engine.core.db import make_engine, make_sessionmaker

    async def runner() -> T:
        engine = make_engine(get_settings().database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(runner())


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    if settings.is_sqlite and args.workers > 1:
        print(
            "SQLite serves from one process; use PostgreSQL for several workers.", file=sys.stderr
        )
        return 2
    if args.workers > 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _metrics_directory()
    from services.engine.logs import uvicorn_log_config

    uvicorn.run(
        "services.engine.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level,
        # Every line scrubbed of tokens; JSON lines with their own access line (logs.py).
        log_config=uvicorn_log_config(settings.log_format, settings.log_level),
        access_log=settings.access_log and settings.log_format == "text",
        ws=settings.ws_impl,
        # The bus has its own heartbeats (docs/bus.md); no second ping task per socket.
        ws_ping_interval=None,
        # No permessage-deflate: bus messages are small, and a compressor per socket
        # costs ~50 KB and CPU for every message to every screen (docs/bus.md).
        ws_per_message_deflate=False,
        ws_max_queue=8,
        # A client's messages are pings: nothing near the body limit is needed.
        ws_max_size=settings.max_body_bytes,
        # The client address from X-Forwarded-For, believed only from these proxies.
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # Bounds on connections (docs/limits.md): an idle one is closed after the
        # keep-alive; past the limit new requests get 503 instead of piling up.
        # uvicorn has no header or body read timeout: that is the reverse proxy's job.
        timeout_keep_alive=settings.http_keep_alive_seconds,
        limit_concurrency=settings.http_max_connections,
    )
    return 0


def _metrics_directory() -> None:
    """Several workers write their metrics to files of one directory, which /metrics
    adds up (services/engine/metrics.py): PROMETHEUS_MULTIPROC_DIR if set (made if
    missing, emptied: it holds the last run's), else a new temporary one. Before any
    worker starts (prometheus-client reads the variable when first imported)."""
    import tempfile

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="jiaohao-metrics-")


def cmd_keys(args: argparse.Namespace) -> int:
    """The engine's keys, random, made once: nothing public signs tokens or keys hashes."""
    from services.engine.config import ensure_keys

    for name, written in ensure_keys(args.dir).items():
        where = Path(args.dir) / name
        print(f"{name}: {'written to' if written else 'kept in'} {where} (mode 0600)")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from services.engine.migrate import upgrade

    upgrade(get_settings().database_url, args.revision)
    print(f"database is at {args.revision}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from services.engine.backup import BackupError, backup, label

    try:
        made = backup(get_settings().database_url, Path(args.to), keep=args.keep)
    except BackupError as err:
        print(f"jiaohao backup: {err}", file=sys.stderr)
        return 1
    print(f"backed up to {made.path} (schema {label(made.revisions)})")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from services.engine.backup import BackupError, code_heads, label, restore

    try:
        restored = restore(get_settings().database_url, Path(args.source), replace=args.replace)
    except BackupError as err:
        print(f"jiaohao restore: {err}", file=sys.stderr)
        return 1
    print(f"restored {args.source} (schema {label(restored)})")
    if restored != code_heads():
        print(f"run `jiaohao migrate` to bring it to {label(code_heads())} before serving")
    return 0


def cmd_advise(args: argparse.Namespace) -> int:
    """Windows each service needs, hour by hour, from a period of the hall's history."""
    from datetime import date

    from services.engine.core.errors import Refusal
    from services.engine.halls.service import get_hall
    from services.engine.statistics import reports
    from services.engine.statistics.service import Filters, PeriodData, load
    from services.engine.statistics.simulation import advice_check_of

    try:
        first, last = date.fromisoformat(args.first), date.fromisoformat(args.last)
    except ValueError as err:
        print(f"jiaohao advise: {err} (give dates as 2026-11-01)", file=sys.stderr)
        return 2

    async def read(session: AsyncSession) -> tuple[PeriodData, Any]:
        hall = await get_hall(session=session, code=args.hall)
        if args.no_check:
            data = await load(session=session, hall=hall, first=first, last=last, filters=Filters())
            return data, None
        # The simulator's check of the advice (services/advise_cli.py prints it).
        checked = await advice_check_of(
            session=session,
            hall=hall,
            first=first,
            last=last,
            weekday=args.weekday,
            seeds=args.seeds,
            service_level=args.service_level,
        )
        return checked.data, checked

    if not 1 <= args.seeds <= 20:
        print("jiaohao advise: --seeds: 1 to 20", file=sys.stderr)
        return 2
    try:
        data, checked = _run_db(read)
    except Refusal as err:
        print(f"jiaohao advise: {err.detail}", file=sys.stderr)
        return 2
    found = reports.advice(
        data.rows,
        first=first,
        last=last,
        tz=data.tz,
        default_handle=data.default_handle,
        targets=data.targets,
        service_level=args.service_level,
    )
    weekdays = reports.weekdays_in(first, last)
    print(
        f"{args.hall} {first}..{last}: {weekdays} weekdays, {len(data.rows)} tickets; "
        f"windows to call {args.service_level:.0%} within each service's target wait "
        "(Erlang C, each service on its own)"
    )
    for a in found:
        source = "history" if a.handle_from_history else "hall file, too few cases"
        no_show = f"{a.no_show_rate:.0%}" if a.no_show_rate is not None else "-"
        print(
            f"\n{data.service_names.get(a.service, a.service)} ({a.service}): {a.tickets} tickets, "
            f"handling {a.mean_handle_seconds / 60:.1f} min ({source}), no-show {no_show}, "
            f"target {a.target_seconds / 60:.0f} min, own windows today "
            f"{data.own_windows.get(a.service, 0)}"
        )
        print("  hour  arrivals/h  windows")
        for h in a.hours:
            print(f"  {h.hour:02d}    {h.arrivals:10.1f}  {h.windows:7d}")
    if checked is not None:
        from services.advise_cli import print_check

        print_check(checked, args.service_level)
    return 0


def cmd_assets(args: argparse.Namespace) -> int:
    """Fetch the pages' third-party files (charts) from the npm registry, once."""
    from services.assets import AssetError, fetch, registry_url

    try:
        done = fetch(registry=args.registry or registry_url())
    except AssetError as err:
        print(f"jiaohao assets: {err}", file=sys.stderr)
        return 1
    print("installed: " + ", ".join(done) if done else "front-end files already installed")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from services.doctor import run_checks

    settings = get_settings()
    return run_checks(settings, gateway_config=args.gateway_config, backup_dir=args.backup_dir)


def cmd_hall_apply(args: argparse.Namespace) -> int:
    from services.engine.setup.apply import apply_hall_file
    from services.engine.setup.hall_file import parse_hall_file

    spec = parse_hall_file(Path(args.file).read_text(encoding="utf-8"))
    report = _run_db(lambda s: apply_hall_file(session=s, spec=spec))
    if report.created_hall:
        print(f"hall {report.hall_code}: created")
    for change in report.changes:
        print(f"hall {report.hall_code}: {change}")
    if not report.changed:
        print(f"hall {report.hall_code}: nothing to change")
    return 0


def cmd_hall_export(args: argparse.Namespace) -> int:
    """The hall's configuration as its hall file: to stdout, or ``--out FILE``."""
    from services.engine.core.db import utcnow
    from services.engine.halls.service import get_hall
    from services.engine.setup.export import export_text

    async def work(session: AsyncSession) -> str:
        hall = await get_hall(session=session, code=args.code)
        return await export_text(session, hall, now=utcnow())

    text = _run_db(work)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"hall {args.code}: written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


async def _hall(session: AsyncSession, code: str | None) -> Any:
    from services.engine.halls.service import get_hall

    return await get_hall(session=session, code=code) if code else None


def cmd_user_add(args: argparse.Namespace) -> int:
    from services.engine.auth import service
    from services.engine.auth.permissions import Role

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("passwords differ", file=sys.stderr)
            return 2

    async def work(session: AsyncSession) -> None:
        from services.engine.regions.service import get_region

        hall = await _hall(session, args.hall)
        region = await get_region(session, args.region) if args.region else None
        await service.add_user(
            session=session,
            hall=hall,
            role=Role(args.role),
            username=args.username,
            password=password,
            region=region,
        )

    _run_db(work)
    print(f"user {args.username} ({args.role}) added")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    from services.engine.auth import accounts

    rows: list[str] = []

    async def work(session: AsyncSession) -> None:
        hall = await _hall(session, args.hall)
        for user in await accounts.list_all(session, hall.id if hall else None):
            last = user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "-"
            state = "active" if user.active else "disabled"
            rows.append(f"{user.username}\t{user.role}\t{state}\tlast login {last}")

    _run_db(work)
    print("\n".join(rows) if rows else "no accounts")
    return 0


def cmd_user_active(args: argparse.Namespace) -> int:
    from services.engine.auth import accounts

    active: bool = args.active

    async def work(session: AsyncSession) -> None:
        await accounts.operator_set_active(session=session, username=args.username, active=active)

    _run_db(work)
    print(f"user {args.username} {'enabled' if active else 'disabled'}")
    return 0


def cmd_user_reset_password(args: argparse.Namespace) -> int:
    from services.engine.auth import accounts

    found: list[str] = []

    async def work(session: AsyncSession) -> None:
        _, password = await accounts.operator_reset_password(
            session=session, username=args.username
        )
        found.append(password)

    _run_db(work)
    print(f"user {args.username}: new password (shown only now): {found[0]}")
    return 0


def cmd_device_add(args: argparse.Namespace) -> int:
    from services.engine.auth.accounts import OPERATOR
    from services.engine.auth.permissions import DeviceKind
    from services.engine.devices import admin

    async def work(session: AsyncSession) -> str:
        hall = await _hall(session, args.hall)
        _, token = await admin.add(
            session=session, hall=hall, kind=DeviceKind(args.kind), name=args.name, actor=OPERATOR
        )
        return token

    token = _run_db(work)
    print(f"device {args.name} ({args.kind}) added; its token (shown once, keep it safe):")
    print(token)
    return 0


def cmd_device_revoke(args: argparse.Namespace) -> int:
    from services.engine.auth.accounts import OPERATOR
    from services.engine.devices import admin

    async def work(session: AsyncSession) -> None:
        hall = await _hall(session, args.hall)
        device_id = await admin.device_id_by_name(session, hall, args.name)
        await admin.revoke(session=session, hall=hall, device_id=device_id, actor=OPERATOR)

    _run_db(work)
    print(f"device {args.name} revoked: its token no longer works")
    return 0


def cmd_reviews_export(args: argparse.Namespace) -> int:
    """好差评 records and cases of a period for the provincial platform."""
    from datetime import date

    from services.engine.reviews import export, service

    async def work(session: AsyncSession) -> bytes:
        hall = await _hall(session, args.hall)
        data = await service.export(
            session=session,
            hall=hall,
            start=date.fromisoformat(args.start),
            end=date.fromisoformat(args.end),
            preset=args.preset,
        )
        if args.format == "json":
            return export.to_json(data)
        if args.format == "xlsx":
            return export.to_xlsx(data)
        if args.what == "cases":
            return export.to_csv(data.cases, export.CASE_FIELDS)
        return export.to_csv(data.ratings, export.RATING_FIELDS)

    body = _run_db(work)
    if args.output == "-":
        sys.stdout.buffer.write(body)
    else:
        Path(args.output).write_bytes(body)
        print(f"written {args.output} ({len(body)} bytes)", file=sys.stderr)
    return 0


def cmd_reviews_sweep(args: argparse.Namespace) -> int:
    """Overdue bad-review cases, callback-phone retention, default ratings (a timer)."""
    from services.engine.reviews import service

    async def work(session: AsyncSession) -> service.SweepResult:
        hall = await _hall(session, args.hall)
        return await service.sweep(session=session, hall=hall)

    result = _run_db(work)
    print(
        f"overdue {len(result.overdue)}, phones erased {result.phones_erased}, "
        f"default ratings {result.defaults}, alerts posted {result.notified}"
    )
    return 0


def cmd_partner_add(args: argparse.Namespace) -> int:
    from services.engine.partners.service import add_partner

    async def work(session: AsyncSession) -> tuple[str, str]:
        hall = await _hall(session, args.hall)
        created = await add_partner(
            session=session,
            hall=hall,
            name=args.name,
            webhook_url=args.webhook,
            secret_key=get_settings().secret_key,
            rate_per_minute=args.rate,
        )
        return created.partner.key_id, created.secret

    key_id, secret = _run_db(work)
    print(f"partner {args.name} added to hall {args.hall}; its key (shown once, keep it safe):")
    print(f"key id: {key_id}")
    print(f"secret: {secret}")
    return 0


def cmd_demo_setup(args: argparse.Namespace) -> int:
    from services.engine.demo import setup_demo

    hall_text = Path(args.file).read_text(encoding="utf-8")
    return _run_db(lambda s: setup_demo(session=s, hall_text=hall_text))


def cmd_devices_simulate(args: argparse.Namespace) -> int:
    from drivers.simulators.cli import main as simulate_main

    return simulate_main(["--config", args.config])


def cmd_gateway(args: argparse.Namespace) -> int:
    from services.gateway.cli import run

    return run(args)


def cmd_simulate(args: argparse.Namespace) -> int:
    from services.simulator.cli import main as simulate_main

    return simulate_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jiaohao", description="jiaohao (叫号) queue and ticketing"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the ticket engine")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    keys = sub.add_parser(
        "keys", help="write random engine keys (token signing, PII hashing) once, mode 0600"
    )
    keys.add_argument(
        "--dir",
        default=os.environ.get("JIAOHAO_KEY_DIR", "var"),
        help="where to keep them (JIAOHAO_KEY_DIR; default var)",
    )
    keys.set_defaults(func=cmd_keys)

    migrate = sub.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument("--revision", default="heads")
    migrate.set_defaults(func=cmd_migrate)

    backup = sub.add_parser(
        "backup", help="back the database up (online: SQLite's backup API, or pg_dump)"
    )
    backup.add_argument("--to", required=True, help="folder the backup file is written to")
    backup.add_argument(
        "--keep", type=int, default=0, help="keep only this many newest backups there (0: all)"
    )
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="restore a backup into the configured database")
    restore.add_argument("--from", dest="source", required=True, help="the backup file")
    restore.add_argument(
        "--replace", action="store_true", help="replace a database that holds halls"
    )
    restore.set_defaults(func=cmd_restore)

    doctor = sub.add_parser("doctor", help="check this installation; exit 0 only if all pass")
    doctor.add_argument("--gateway-config", help="the hall gateway's config: check its ports")
    doctor.add_argument("--backup-dir", help="where backups go: check its free space")
    doctor.set_defaults(func=cmd_doctor)
    advise = sub.add_parser(
        "advise", help="windows each service needs hour by hour, from the hall's history"
    )
    advise.add_argument("--hall", required=True)
    advise.add_argument("--from", dest="first", required=True, help="first day, 2026-11-01")
    advise.add_argument("--to", dest="last", required=True, help="last day, included")
    advise.add_argument("--service-level", type=float, default=0.8)
    advise.add_argument("--seeds", type=int, default=5, help="simulated days per staffing")
    advise.add_argument(
        "--weekday", type=int, choices=range(7), help="simulate this weekday (0 = Monday)"
    )
    advise.add_argument("--no-check", action="store_true", help="skip the simulator's check")
    advise.set_defaults(func=cmd_advise)
    from services.advise_cli import add_replay

    add_replay(sub, _run_db)
    from services.stats_push_cli import add_stats

    add_stats(sub, _run_db)
    assets = sub.add_parser(
        "assets", help="fetch the pages' third-party files (charts) from the npm registry"
    )
    assets.add_argument("--registry", help="an npm registry (default: JIAOHAO_NPM_REGISTRY)")
    assets.set_defaults(func=cmd_assets)

    hall = sub.add_parser("hall", help="hall configuration").add_subparsers(
        dest="hall_command", required=True
    )
    apply = hall.add_parser("apply", help="create or update a hall from its TOML file")
    apply.add_argument("file")
    apply.set_defaults(func=cmd_hall_apply)
    export = hall.add_parser("export", help="write a hall's configuration as its TOML file")
    export.add_argument("code", help="the hall's code")
    export.add_argument("--out", help="the file to write (default: standard output)")
    export.set_defaults(func=cmd_hall_export)

    user = sub.add_parser("user", help="staff accounts").add_subparsers(
        dest="user_command", required=True
    )
    user_add = user.add_parser("add", help="add a staff account")
    user_add.add_argument("--hall", help="hall code (an admin may have none)")
    user_add.add_argument(
        "--role", choices=["admin", "manager", "staff", "region_admin"], required=True
    )
    user_add.add_argument("--region", help="a region admin's region code (行政区划代码)")
    user_add.add_argument("--username", required=True)
    user_add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    user_add.set_defaults(func=cmd_user_add)
    user_list = user.add_parser("list", help="list accounts with their last login")
    user_list.add_argument("--hall", help="only this hall's accounts")
    user_list.set_defaults(func=cmd_user_list)
    for name, text, active in (
        ("disable", "disable an account (its logins and tokens stop working)", False),
        ("enable", "enable an account again", True),
    ):
        user_state = user.add_parser(name, help=text)
        user_state.add_argument("username")
        user_state.set_defaults(func=cmd_user_active, active=active)
    user_reset = user.add_parser("reset-password", help="a new generated password, shown once")
    user_reset.add_argument("username")
    user_reset.set_defaults(func=cmd_user_reset_password)

    device = sub.add_parser("device", help="hall devices").add_subparsers(
        dest="device_command", required=True
    )
    device_add = device.add_parser("add", help="add a device and print its token once")
    device_add.add_argument("--hall", required=True)
    device_add.add_argument(
        "--kind", choices=["kiosk", "gateway", "display", "station"], required=True
    )
    device_add.add_argument("--name", required=True)
    device_add.set_defaults(func=cmd_device_add)
    device_revoke = device.add_parser("revoke", help="stop a device's token from working")
    device_revoke.add_argument("--hall", required=True)
    device_revoke.add_argument("--name", required=True)
    device_revoke.set_defaults(func=cmd_device_revoke)

    devices = sub.add_parser("devices", help="device tools").add_subparsers(
        dest="devices_command", required=True
    )
    simulate = devices.add_parser(
        "simulate", help="start simulated keypads, boards, pads and a printer on ptys"
    )
    simulate.add_argument("--config", required=True)
    simulate.set_defaults(func=cmd_devices_simulate)

    from services.gateway.cli import add_arguments as gateway_arguments

    gateway = sub.add_parser("gateway", help="run the hall device gateway (buses <-> engine)")
    gateway_arguments(gateway)
    gateway.set_defaults(func=cmd_gateway)

    from services.simulator.cli import add_arguments as simulate_arguments

    day = sub.add_parser("simulate", help="simulate a day in the hall under calling policies")
    simulate_arguments(day)
    day.set_defaults(func=cmd_simulate)

    partner = sub.add_parser(
        "partner", help="booking partners (mini-program servers)"
    ).add_subparsers(dest="partner_command", required=True)
    partner_add = partner.add_parser("add", help="add a partner and print its signing key once")
    partner_add.add_argument("--hall", required=True)
    partner_add.add_argument("--name", required=True)
    partner_add.add_argument("--webhook", help="URL the engine POSTs signed notifications to")
    partner_add.add_argument(
        "--rate", type=int, default=600, help="requests a minute (default 600)"
    )
    partner_add.set_defaults(func=cmd_partner_add)

    reviews = sub.add_parser("reviews", help="好差评: export, daily sweep").add_subparsers(
        dest="reviews_command", required=True
    )
    rexport = reviews.add_parser(
        "export", help="rating records (GB/T 39046 fields) and cases of a period"
    )
    rexport.add_argument("--hall", required=True)
    rexport.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD")
    rexport.add_argument("--to", dest="end", required=True, help="YYYY-MM-DD (inclusive)")
    rexport.add_argument("--format", choices=("csv", "xlsx", "json"), default="csv")
    rexport.add_argument("--what", choices=("ratings", "cases"), default="ratings")
    rexport.add_argument(
        "--preset", choices=("national", "provincial_reverse"), help="default: the hall's"
    )
    rexport.add_argument("--output", "-o", default="-", help="a file, or - for stdout")
    rexport.set_defaults(func=cmd_reviews_export)
    rsweep = reviews.add_parser(
        "sweep", help="raise overdue cases, erase phones past retention, default ratings"
    )
    rsweep.add_argument("--hall", required=True)
    rsweep.set_defaults(func=cmd_reviews_sweep)

    demo = sub.add_parser(
        "demo-setup", help="load the demo hall and demo accounts into an empty database"
    )
    demo.add_argument(
        "--file", default=str(Path(__file__).resolve().parents[1] / "deploy/halls/demo.toml")
    )
    demo.set_defaults(func=cmd_demo_setup)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    from services.engine.core.errors import Refusal

    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except Refusal as err:  # the engine's refusal, as the API would say it: exit 2
        print(err.detail, file=sys.stderr)
        return 2
    except ValidationError as err:  # the settings: say what is wrong, not a traceback
        if err.title != "Settings":
            raise
        for error in err.errors():
            print(f"jiaohao: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
