"""``jiaohao backup --to DIR`` and ``jiaohao restore --from FILE`` (docs/operations.md).

- SQLite: SQLite's online backup API copies the database file while the engine runs
  (a consistent copy: one read transaction, the engine's writers go on in WAL mode).
  The copy is a SQLite database itself: ``jiaohao-<UTC time>-<schema>.sqlite``.
- PostgreSQL: ``pg_dump`` in its custom format (``.pgdump``), consistent by itself
  (one repeatable-read snapshot) while engines write; restored by ``pg_restore``.

A backup carries its schema revision (the ``alembic_version`` table inside it, read
back from the file). A restore goes into an empty database, or into one at the same
revision with ``--replace``; a database at another revision is refused with the
steps that make them match, and a backup newer than this jiaohao is refused.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from services.engine.core.db import make_engine
from services.engine.migrate import alembic_config

PREFIX = "jiaohao-"
SUFFIXES = (".sqlite", ".pgdump")


class BackupError(Exception):
    """What went wrong, in words for the operator (the command prints it)."""


@dataclass(frozen=True)
class Backup:
    path: Path
    revisions: frozenset[str]


# -- the schema ---------------------------------------------------------------------


def code_heads() -> frozenset[str]:
    """The revisions this jiaohao migrates to."""
    return frozenset(ScriptDirectory.from_config(alembic_config("unused://")).get_heads())


def known(revision: str) -> bool:
    try:
        return (
            ScriptDirectory.from_config(alembic_config("unused://")).get_revision(revision)
            is not None
        )
    except Exception:  # alembic raises its own kinds for an unknown id
        return False


def label(revisions: frozenset[str]) -> str:
    return ",".join(sorted(revisions)) or "nothing"


async def database_state(url: str) -> tuple[frozenset[str] | None, int]:
    """(the database's schema revisions, None if not migrated; how many halls it holds)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            try:
                rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            except DBAPIError:
                return None, 0
            revisions = frozenset(str(r) for r in rows.scalars())
            try:
                halls = (await connection.execute(text("SELECT count(*) FROM halls"))).scalar_one()
            except DBAPIError:
                halls = 0
            return (revisions or None), int(halls)
    finally:
        await engine.dispose()


# -- backup -------------------------------------------------------------------------


def backup(url: str, folder: Path, keep: int = 0) -> Backup:
    """Back the database up into ``folder``; keep the ``keep`` newest (0: all)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    if _is_sqlite(url):
        made = _backup_sqlite(_sqlite_path(url), folder, stamp)
    else:
        made = _backup_postgres(url, folder, stamp)
    if keep > 0:
        prune(folder, keep)
    return made


def _backup_sqlite(source: Path, folder: Path, stamp: str) -> Backup:
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    partial = folder / f".{PREFIX}{stamp}.partial"
    try:
        with _sqlite(source, readonly=True) as live, _sqlite(partial) as copy:
            live.backup(copy)  # the online backup API: one consistent copy
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    except sqlite3.Error as err:
        partial.unlink(missing_ok=True)
        raise BackupError(f"could not copy {source}: {err}") from err
    revisions = _sqlite_revisions(partial)
    final = folder / f"{PREFIX}{stamp}-{label(revisions)}.sqlite"
    partial.replace(final)
    return Backup(final, revisions)


def _backup_postgres(url: str, folder: Path, stamp: str) -> Backup:
    partial = folder / f".{PREFIX}{stamp}.partial"
    try:
        _run(
            "pg_dump",
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--file={partial}",
            f"--dbname={libpq_url(url)}",
        )
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    revisions = pgdump_revisions(partial)
    final = folder / f"{PREFIX}{stamp}-{label(revisions)}.pgdump"
    partial.replace(final)
    return Backup(final, revisions)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest backups of ``folder``; what was deleted."""
    backups = sorted(
        (p for p in folder.glob(f"{PREFIX}*") if p.suffix in SUFFIXES), key=lambda p: p.name
    )
    old = backups[:-keep] if keep else []
    for path in old:
        path.unlink()
    return old


# -- what a backup holds ------------------------------------------------------------


def revisions_of(path: Path) -> frozenset[str]:
    if path.suffix == ".sqlite":
        return _sqlite_revisions(path)
    if path.suffix == ".pgdump":
        return pgdump_revisions(path)
    raise BackupError(f"{path}: not a jiaohao backup (.sqlite or .pgdump)")


def _sqlite_revisions(path: Path) -> frozenset[str]:
    try:
        with _sqlite(path, readonly=True) as db:
            return frozenset(r[0] for r in db.execute("SELECT version_num FROM alembic_version"))
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{path}: not a migrated jiaohao database ({err})") from err


def pgdump_revisions(path: Path) -> frozenset[str]:
    """The alembic_version rows in a custom-format dump (pg_restore prints them)."""
    out = _run("pg_restore", "--data-only", "--table=alembic_version", "--file=-", str(path))
    rows = re.search(r"^COPY \S*alembic_version .*? FROM stdin;\n(.*?)^\\\.$", out, re.S | re.M)
    if rows is None:
        raise BackupError(f"{path}: no schema revision in the dump (not a jiaohao backup?)")
    return frozenset(line.strip() for line in rows.group(1).splitlines() if line.strip())


# -- restore ------------------------------------------------------------------------


def restore(url: str, path: Path, *, replace: bool = False) -> frozenset[str]:
    """Restore ``path`` into the database at ``url``; the revisions restored."""
    if not path.is_file():
        raise BackupError(f"no backup at {path}")
    wanted = revisions_of(path)
    if (path.suffix == ".sqlite") != _is_sqlite(url):
        kind = "SQLite" if path.suffix == ".sqlite" else "PostgreSQL"
        raise BackupError(f"{path} is a {kind} backup: restore it into a {kind} database")
    unknown = sorted(r for r in wanted if not known(r))
    if unknown:
        raise BackupError(
            f"the backup's schema ({label(wanted)}) is newer than this jiaohao knows "
            f"(it migrates to {label(code_heads())}): install the jiaohao version that "
            "made the backup, or a later one, and restore with it"
        )
    if _is_sqlite(url) and not _sqlite_path(url).exists():
        current, halls = None, 0  # a new file
    else:
        current, halls = asyncio.run(database_state(url))
    if current is not None and current != wanted:
        raise BackupError(_how_to_match(current, wanted))
    if halls and not replace:
        raise BackupError(
            f"the database holds {halls} hall(s): restoring replaces everything in it. "
            "Stop the engines and give --replace, or restore into an empty database"
        )
    if _is_sqlite(url):
        _restore_sqlite(path, _sqlite_path(url))
    else:
        _run(
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={libpq_url(url)}",
            str(path),
        )
    return wanted


def _how_to_match(current: frozenset[str], wanted: frozenset[str]) -> str:
    said = (
        f"the database's schema is at {label(current)}, the backup's at {label(wanted)}: "
        "a restore needs them equal (or an empty database). "
    )
    heads = code_heads()
    if wanted == heads:
        return said + (
            "Bring the database to the backup's revision with `jiaohao migrate`, or "
            "restore into an empty database; then restore again"
        )
    return said + (
        "Restore into an empty database (a new SQLite file; for PostgreSQL "
        "`dropdb` and `createdb`), then run `jiaohao migrate` to bring it to "
        f"{label(heads)}"
    )


def _restore_sqlite(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with _sqlite(source, readonly=True) as backup_db, _sqlite(target) as live:
        backup_db.backup(live)


# -- plumbing -----------------------------------------------------------------------


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(database)


class _sqlite:
    """A plain sqlite3 connection, closed on leaving (the context of sqlite3 only commits)."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
        self.connection = sqlite3.connect(uri, uri=True, timeout=30)

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, *_: object) -> None:
        self.connection.close()


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (postgresql+asyncpg://...) as libpq's (pg_dump, pg_restore)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(program: str, *args: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise BackupError(
            f"{program} is not installed: `apt-get install postgresql-client` "
            "(the same major version as the server, or newer)"
        )
    done = subprocess.run(
        [found, *args], capture_output=True, text=True, check=False, env=os.environ.copy()
    )
    if done.returncode != 0:
        raise BackupError(f"{program} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout
