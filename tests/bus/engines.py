"""Real engine processes (uvicorn) on free loopback ports, for end-to-end bus tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, make_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class EngineProcess:
    """``uvicorn services.engine.main:app`` against a test database."""

    def __init__(self, database_url: str, log_dir: Path, name: str, **settings: object) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        base = make_settings(database_url, **settings)
        env = {k: v for k, v in os.environ.items() if not k.startswith("JIAOHAO_")}
        env.update(
            {
                "JIAOHAO_ENVIRONMENT": base.environment,
                "JIAOHAO_DATABASE_URL": base.database_url,
                "JIAOHAO_SECRET_KEY": base.secret_key,
                "JIAOHAO_PII_KEY": base.pii_key,
                "JIAOHAO_DATABASE_POOL_SIZE": "3",
            }
        )
        env.update({f"JIAOHAO_{k.upper()}": str(v) for k, v in settings.items()})
        self._env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_within: float = 60.0) -> EngineProcess:
        self.launch()
        return self.wait_ready(ready_within)

    def launch(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "services.engine.main:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, ready_within: float = 60.0) -> EngineProcess:
        """Poll /healthz (bounded): uvicorn answers only once start-up, LISTEN included, is done."""
        assert self.process is not None
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"engine exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # polling interval of a bounded readiness loop
        self.stop()
        raise RuntimeError(
            f"engine not ready within {ready_within}s:\n{self.log_path.read_text()[-3000:]}"
        )

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
