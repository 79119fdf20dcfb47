"""Real processes for the gateway's end-to-end tests: the CLI, the engine, the gateway."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT

SECRETS = {
    "JIAOHAO_ENVIRONMENT": "test",
    "JIAOHAO_SECRET_KEY": "test-secret-key-not-for-production",
    "JIAOHAO_PII_KEY": "test-pii-key-not-for-production",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def engine_env(database_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIAOHAO_")}
    env.update(SECRETS)
    env["JIAOHAO_DATABASE_URL"] = database_url
    env.update({f"JIAOHAO_{k.upper()}": v for k, v in settings.items()})
    return env


def jiaohao(env: dict[str, str], *args: str) -> str:
    """Run the real ``jiaohao`` command; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"jiaohao {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def device_tokens(env: dict[str, str], hall: str, kinds: tuple[str, ...]) -> dict[str, str]:
    """``jiaohao device add`` for each kind (named e2e-<kind>), side by side; the tokens."""
    runs = {
        kind: subprocess.Popen(
            [sys.executable, "-m", "services.cli", "device", "add", "--hall", hall,
             "--kind", kind, "--name", f"e2e-{kind}"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for kind in kinds
    }  # fmt: skip
    tokens = {}
    for kind, run in runs.items():
        out, _ = run.communicate(timeout=120)
        token = out.strip().splitlines()[-1] if out.strip() else ""
        assert run.returncode == 0 and token.startswith("jhd_"), out
        tokens[kind] = token
    return tokens


def wait_until(what: str, check, timeout: float = 30.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll ``check()`` until it returns something truthy (bounded; never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Process:
    """A child process with its output in a log file; stopped with SIGTERM."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        code = self.process.returncode
        self.process = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Engine(Process):
    """``uvicorn services.engine.main:app`` on a loopback port (the same one after a restart)."""

    def __init__(self, env: dict[str, str], log_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        argv = [
            sys.executable, "-m", "uvicorn", "services.engine.main:app",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
        ]  # fmt: skip
        super().__init__("engine", argv, env, log_dir)

    def start(self, ready_within: float = 60.0) -> None:
        super().start()

        def ready() -> bool:
            if not self.running:
                raise AssertionError(f"engine exited:\n{self.log()[-3000:]}")
            try:
                return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until("the engine to answer", ready, ready_within)
