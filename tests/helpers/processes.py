"""Real engine processes (uvicorn, as deployed) on free loopback ports, for end-to-end tests."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers import ROOT
from tests.helpers.api import act
from tests.helpers.cli import JIAOHAO, engine_env
from tests.helpers.halls import Hall
from tests.helpers.net import free_port
from tests.helpers.waiting import wait_until


class EngineProcess:
    """``uvicorn services.engine.main:app`` against a test database; with ``serve``,
    ``jiaohao serve`` (the server options it sets: keep-alive, connection limit ...);
    with ``workers`` > 1, ``jiaohao serve --workers N``. ``env``: more variables."""

    def __init__(
        self,
        database_url: str,
        log_dir: Path,
        name: str,
        *,
        serve: bool = False,
        workers: int = 1,
        env: dict[str, str] | None = None,
        prefix: tuple[str, ...] = (),
        **settings: object,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        self._env = engine_env(database_url, **{"database_pool_size": 3, **settings})
        self._env.update(env or {})
        self._serve = serve or workers > 1
        self._workers = workers
        self._prefix = prefix  # a command that runs the engine's (a confinement)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_within: float = 60.0) -> EngineProcess:
        self.launch()
        return self.wait_ready(ready_within)

    def launch(self) -> None:
        with self.log_path.open("ab") as log:
            where = ["--host", "127.0.0.1", "--port", str(self.port)]
            uvicorn = [sys.executable, "-m", "uvicorn", "services.engine.main:app"]
            command = (
                [str(JIAOHAO), "serve", *where, "--workers", str(self._workers)]
                if self._serve
                else [*uvicorn, *where, "--log-level", "warning"]
            )
            self.process = subprocess.Popen(
                [*self._prefix, *command],
                cwd=ROOT,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, ready_within: float = 60.0) -> EngineProcess:
        """Poll /healthz (bounded): uvicorn answers only once start-up, LISTEN included, is done."""
        process = self.process
        assert process is not None

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"engine exited early:\n{self.log()[-3000:]}")
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200

        try:
            wait_until(
                ready,
                ready_within,
                "the engine to answer",
                log=lambda: self.log()[-3000:],
                ignore=(httpx.TransportError,),
            )
        except AssertionError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


async def start(*engines: EngineProcess) -> None:
    """Launch them all at once (the machine has two cores), then wait until each answers."""
    for engine in engines:
        engine.launch()
    await asyncio.gather(*(asyncio.to_thread(e.wait_ready) for e in engines))


async def window(
    http: httpx.AsyncClient, engine: EngineProcess, hall: Hall, number: int, action: str
) -> httpx.Response:
    """A window action (open, call-next, recall ...) through an engine process; it must succeed."""
    response = await act(http, hall, number, action, base=engine.base_url)
    assert response.status_code < 300, response.text
    return response


async def call(http: httpx.AsyncClient, engine: EngineProcess, hall: Hall, number: int) -> str:
    """Call the next ticket at a window through an engine process; its number."""
    response = await window(http, engine, hall, number, "call-next")
    called: str = response.json()["ticket"]["number"]
    return called
