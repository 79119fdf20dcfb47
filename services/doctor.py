"""``jiaohao doctor``: check an installation and say what is wrong, in plain words.

Each check prints ``ok``, ``warn`` or ``FAIL`` with what it found and, when it fails,
what to do. The exit status is 0 only when no check fails (a warning does not fail).
It reads the same environment as the engine (JIAOHAO_*), so run it as the engine's
user with the engine's EnvironmentFile.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.engine.config import KEYS, Settings
from services.engine.core.db import make_engine

OK, WARN, FAIL = "ok", "warn", "FAIL"
# Words that mark a key as one written in a document, a test or an example.
DEFAULT_MARKS = ("not-for-production", "change", "example", "default", "secret-key", "test-")
CLOCK_SKEW_SECONDS = 2.0
MIN_FREE_BYTES = 512 * 1024 * 1024
LISTENER_NAME = "jiaohao-listener"  # events/pg.py APPLICATION_NAME


@dataclass
class Result:
    status: str
    name: str
    said: str


def run_checks(
    settings: Settings, *, gateway_config: str | None = None, backup_dir: str | None = None
) -> int:
    """Run every check, print each, return the exit status."""
    results = asyncio.run(_all(settings, gateway_config, backup_dir))
    for result in results:
        print(f"{result.status:<4}  {result.name}: {result.said}")
    failed = [r for r in results if r.status == FAIL]
    print(f"{len(failed)} check(s) failed" if failed else "all checks passed")
    sys.stdout.flush()
    return 1 if failed else 0


async def _all(
    settings: Settings, gateway_config: str | None, backup_dir: str | None
) -> list[Result]:
    results: list[Result] = []
    results += check_secrets(settings)
    engine = make_engine(settings.database_url)
    try:
        async with asyncio.timeout(15), engine.connect() as connection:
            results += await check_database(connection)
            if settings.is_sqlite:
                results.append(Result(OK, "event listener", "not used (SQLite: one process)"))
                results.append(Result(OK, "access-cache triggers", "not used (SQLite)"))
            else:
                results += await check_listener(connection)
                results += await check_triggers(connection)
            results += await check_clock(connection, settings.is_sqlite)
            results += await check_calendar(connection)
    except Exception as err:  # unreachable, refused, timed out: say so, go on with the rest
        results.append(
            Result(FAIL, "database", f"cannot reach {_where(settings.database_url)}: {err!r}")
        )
    finally:
        await engine.dispose()
    results += await check_public_url(settings.public_base_url)
    results += check_disk(settings, backup_dir)
    if gateway_config:
        results += check_serial_ports(gateway_config)
    return results


# -- the checks ---------------------------------------------------------------------


def check_secrets(settings: Settings) -> list[Result]:
    """Set (the settings refuse to load otherwise), not a published default, not equal,
    their files private."""
    found: list[Result] = []
    values = {name: getattr(settings, name) for name in KEYS}
    for name, value in values.items():
        env = f"JIAOHAO_{name.upper()}"
        lowered = value.lower()
        if any(mark in lowered for mark in DEFAULT_MARKS) or len(set(value)) < 8:
            found.append(
                Result(
                    FAIL,
                    "secrets",
                    f"{env} is a default or example value: run `jiaohao keys` and use the "
                    "random key it writes (changing secret_key logs staff out and changes "
                    "partners' secrets; changing pii_key unlinks stored ID/phone hashes)",
                )
            )
            continue
        path = Path(settings.key_dir) / name
        if env not in os.environ and path.is_file() and path.stat().st_mode & 0o077:
            found.append(Result(FAIL, "secrets", f"{path} can be read by others: chmod 600 {path}"))
            continue
        found.append(Result(OK, "secrets", f"{env} set, not a default"))
    if values["secret_key"] == values["pii_key"]:
        found.append(Result(FAIL, "secrets", "the secret key and the PII key are the same"))
    if settings.environment != "production":
        found.append(
            Result(
                WARN, "environment", f"JIAOHAO_ENVIRONMENT={settings.environment}, not production"
            )
        )
    return found


async def check_database(connection: AsyncConnection) -> list[Result]:
    from services.engine.health import migration_heads

    heads = await asyncio.to_thread(migration_heads)
    try:
        rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
    except Exception:
        await connection.rollback()
        return [Result(FAIL, "database", "reachable, not migrated: run `jiaohao migrate`")]
    at = frozenset(str(r) for r in rows.scalars())
    if at != heads:
        return [
            Result(
                FAIL,
                "database",
                f"reachable, schema at {','.join(sorted(at)) or 'nothing'}, this jiaohao "
                f"expects {','.join(sorted(heads))}: run `jiaohao migrate`",
            )
        ]
    return [Result(OK, "database", f"reachable, schema at head ({','.join(sorted(heads))})")]


async def check_listener(connection: AsyncConnection) -> list[Result]:
    """An engine's LISTEN connection shows in pg_stat_activity under its name."""
    count = (
        await connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": LISTENER_NAME},
        )
    ).scalar_one()
    if not count:
        return [
            Result(
                FAIL,
                "event listener",
                "no engine process is listening (no running engine, or its LISTEN "
                "connection is down: see the engine's log and /readyz)",
            )
        ]
    return [Result(OK, "event listener", f"{count} engine process(es) listening")]


async def check_triggers(connection: AsyncConnection) -> list[Result]:
    from services.engine.events.pg import _ENABLED_ACCESS_TRIGGERS, ACCESS_TRIGGERS

    query = _ENABLED_ACCESS_TRIGGERS.replace("$1::text[]", "CAST(:names AS text[])")
    rows = await connection.execute(text(query), {"names": list(ACCESS_TRIGGERS)})
    missing = sorted(set(ACCESS_TRIGGERS) - {str(r[0]) for r in rows})
    if missing:
        return [
            Result(
                FAIL,
                "access-cache triggers",
                f"missing or disabled: {', '.join(missing)} (each engine reads every "
                "request's caller from the database meanwhile): run `jiaohao migrate`, or "
                "ALTER TABLE ... ENABLE TRIGGER the disabled",
            )
        ]
    return [Result(OK, "access-cache triggers", f"all {len(ACCESS_TRIGGERS)} present and enabled")]


async def check_clock(connection: AsyncConnection, sqlite: bool) -> list[Result]:
    """Halls' time zones known here; this machine's clock against the database server's."""
    found: list[Result] = []
    try:
        rows = await connection.execute(text("SELECT DISTINCT timezone FROM halls"))
        zones = [str(z) for z in rows.scalars()]
    except Exception:  # not migrated: the database check says so
        await connection.rollback()
        zones = []
    bad = []
    for zone in zones:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            bad.append(zone)
    if bad:
        found.append(
            Result(
                FAIL,
                "time zones",
                f"unknown here: {', '.join(bad)} (a hall's business day needs it): "
                "install tzdata (`apt-get install tzdata`)",
            )
        )
    else:
        now = datetime.now(UTC)
        said = ", ".join(f"{z} {now.astimezone(ZoneInfo(z)):%Y-%m-%d %H:%M}" for z in zones)
        found.append(Result(OK, "time zones", said or "no hall yet"))
    if sqlite:
        found.append(Result(OK, "clock", f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"))
        return found
    server = (await connection.execute(text("SELECT now()"))).scalar_one()
    skew = abs((datetime.now(UTC) - server).total_seconds())
    if skew > CLOCK_SKEW_SECONDS:
        found.append(
            Result(
                FAIL,
                "clock",
                f"this machine and the database server differ by {skew:.1f} s: "
                "synchronise both (systemd-timesyncd or chrony)",
            )
        )
    else:
        found.append(Result(OK, "clock", f"within {skew:.2f} s of the database server"))
    return found


async def check_public_url(url: str | None) -> list[Result]:
    if not url:
        return [
            Result(
                WARN,
                "public base URL",
                "JIAOHAO_PUBLIC_BASE_URL not set: tickets' QR codes point at the address "
                "the kiosk uses, which phones may not reach",
            )
        ]
    target = url.rstrip("/") + "/healthz"
    try:
        async with httpx.AsyncClient(timeout=5, follow_redirects=True) as http:
            answer = await http.get(target)
    except httpx.HTTPError as err:
        return [Result(FAIL, "public base URL", f"{target} does not answer: {err!r}")]
    if answer.status_code != 200 or answer.json().get("status") != "ok":
        return [
            Result(
                FAIL,
                "public base URL",
                f"{target} answered {answer.status_code}, not a jiaohao engine's 200",
            )
        ]
    return [Result(OK, "public base URL", f"{target} answers")]


async def check_calendar(connection: AsyncConnection) -> list[Result]:
    """The national calendar (chinese-calendar) knows this year and the next, where a hall
    follows it: a year it lacks is not guessed (docs/manage.md), so say so."""
    import json

    from services.engine.halls.national import national_calendar

    national = national_calendar()
    this_year = datetime.now(UTC).year
    unknown = national.unknown_years([this_year, this_year + 1])
    rows = (await connection.execute(text("SELECT code, hours FROM halls"))).all()
    following = []
    for code, hours in rows:
        kept = json.loads(hours) if isinstance(hours, str) else (hours or {})
        if kept.get("national_calendar", True):
            following.append(code)
    known = f"knows {national.first_year}-{national.last_year}"
    if unknown and following:
        years = ", ".join(map(str, unknown))
        return [
            Result(
                WARN,
                "national calendar",
                f"chinese-calendar {known}, not {years}: halls {', '.join(following)} open on "
                "their weekly hours on that year's public holidays; update chinese-calendar "
                "once the State Council has published the year (or list the holidays as the "
                "halls' closed dates)",
            )
        ]
    return [Result(OK, "national calendar", f"chinese-calendar {known}")]


def check_disk(settings: Settings, backup_dir: str | None) -> list[Result]:
    found: list[Result] = []
    places: list[tuple[str, Path, int]] = []
    if settings.is_sqlite:
        from services.engine.backup import _sqlite_path

        db = _sqlite_path(settings.database_url)
        size = db.stat().st_size if db.exists() else 0
        places.append(("SQLite database", db.parent, 2 * size))  # a backup or VACUUM copy
    if backup_dir:
        folder = Path(backup_dir)
        newest = max((p.stat().st_size for p in folder.glob("jiaohao-*")), default=0)
        places.append(("backups", folder, 2 * newest))
    for name, where, needed in places:
        with contextlib.suppress(FileNotFoundError):
            while not where.exists():
                where = where.parent
        free = shutil.disk_usage(where).free
        need = max(needed, MIN_FREE_BYTES)
        if free < need:
            found.append(
                Result(
                    FAIL,
                    "disk",
                    f"{name} ({where}): {free / 2**20:.0f} MiB free, {need / 2**20:.0f} MiB needed",
                )
            )
        else:
            found.append(Result(OK, "disk", f"{name} ({where}): {free / 2**30:.1f} GiB free"))
    return found


def check_serial_ports(path: str) -> list[Result]:
    from services.gateway.config import GatewayConfig, GatewayConfigError

    try:
        config = GatewayConfig.load(path)
    except GatewayConfigError as err:
        return [Result(FAIL, "gateway config", str(err))]
    found: list[Result] = []
    for bus in config.buses:
        port = bus.serial.port
        if not port.startswith("/"):
            found.append(Result(OK, "serial port", f"bus {bus.name}: {port} (a URL, not checked)"))
            continue
        device = Path(port)
        if not device.exists():
            found.append(
                Result(FAIL, "serial port", f"bus {bus.name}: {port} does not exist (plugged in?)")
            )
        elif not stat.S_ISCHR(device.stat().st_mode):
            found.append(Result(FAIL, "serial port", f"bus {bus.name}: {port} is not a device"))
        elif not os.access(device, os.R_OK | os.W_OK):
            found.append(
                Result(
                    FAIL,
                    "serial port",
                    f"bus {bus.name}: {port} not readable and writable by this user: add it "
                    "to the port's group (`usermod -aG dialout USER`)",
                )
            )
        else:
            found.append(Result(OK, "serial port", f"bus {bus.name}: {port} ready"))
    return found


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
