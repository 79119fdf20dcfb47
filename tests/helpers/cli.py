"""The installed ``jiaohao`` command, and the environment an engine process is given."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.engine.core.db import make_engine, make_sessionmaker
from tests.helpers.db import outside_loop, snapshot

JIAOHAO = Path(sys.executable).parent / "jiaohao"
SECRETS = {
    "JIAOHAO_ENVIRONMENT": "test",
    "JIAOHAO_SECRET_KEY": "test-secret-key-not-for-production",
    "JIAOHAO_PII_KEY": "test-pii-key-not-for-production",
}


def engine_env(database_url: str, **settings: object) -> dict[str, str]:
    """This environment without any JIAOHAO_ setting of the developer's, plus the test
    secrets, the database and ``settings`` (as JIAOHAO_<NAME>; they win)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIAOHAO_")}
    env.update(SECRETS)
    env["JIAOHAO_DATABASE_URL"] = database_url
    env.update({f"JIAOHAO_{k.upper()}": str(v) for k, v in settings.items()})
    return env


@dataclass
class Cli:
    """The installed command, pointed at one database."""

    url: str
    cwd: Path
    sqlite_file: Path | None

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        assert JIAOHAO.exists(), f"{JIAOHAO} is missing: install the project (pip install -e .)"
        return subprocess.run(
            [str(JIAOHAO), *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=engine_env(self.url),
            cwd=self.cwd,  # no stray .env file is read
            timeout=180,
            check=False,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self(*args, stdin=stdin)
        assert done.returncode == 0, f"jiaohao {' '.join(args)}: {done.stderr}"
        return done.stdout

    def query(self, fn: Any) -> Any:
        """Run ``await fn(session)`` against the database, from this synchronous test."""

        async def go() -> Any:
            engine = make_engine(self.url)
            try:
                async with make_sessionmaker(engine)() as session:
                    return await fn(session)
            finally:
                await engine.dispose()

        return outside_loop(asyncio.run, go())

    def stored_text(self) -> str:
        """Everything the database holds, as text (for 'never stored in clear' checks)."""
        rows = self.query(snapshot)
        dump = repr(rows)
        if self.sqlite_file is not None:
            dump += self.sqlite_file.read_bytes().decode("latin-1")
        return dump
