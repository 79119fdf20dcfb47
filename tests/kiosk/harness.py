"""Real processes for the kiosk tests: the engine (``jiaohao serve`` on a temp SQLite file,
set up with the ``jiaohao`` CLI) and the kiosk program (``jiaohao-kiosk``), on free
loopback ports. Readiness is awaited by bounded polling, never by fixed sleeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.helpers import ROOT
from tests.helpers.cli import engine_env
from tests.helpers.net import free_port
from tests.helpers.waiting import wait_until

TZ = ZoneInfo("Asia/Shanghai")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# What a process that is still starting (or answering half-way) may raise meanwhile.
NOT_YET = (httpx.HTTPError, OSError, ValueError, KeyError)


def kiosk_hall_file(path: Path, code: str = "kioskhall") -> Path:
    """A hall open around the clock with: business (A) open, estate (B) with no tickets
    at all today (quota 0), and night (N) opening tomorrow at 09:00 only."""
    tomorrow = WEEKDAYS[(datetime.now(TZ) + timedelta(days=1)).weekday()]
    path.write_text(
        f"""
[hall]
code = "{code}"
name = "自助取号测试中心"
timezone = "Asia/Shanghai"
notice = "请携带身份证件"

[hall.hours]
weekly = {{ daily = ["00:00-24:00"] }}
national_calendar = false

[hall.booking]
capacity_per_slot = 3
slot_minutes = 30
release_days_ahead = 1
release_time = "00:00"
arrive_early_minutes = 30
arrive_late_minutes = 30

[[services]]
code = "business"
name = "企业开办"
prefix = "A"
daily_quota = 500

[[services]]
code = "estate"
name = "不动产登记"
prefix = "B"
daily_quota = 0
booking = {{ enabled = false }}

[[services]]
code = "night"
name = "夜间服务"
prefix = "N"
hours = {{ {tomorrow} = ["09:00-11:00"] }}
booking = {{ enabled = false }}

[[windows]]
number = 1
services = {{ business = 1.0, estate = 1.0, night = 1.0 }}
""",
        encoding="utf-8",
    )
    return path


class Engine:
    """The engine as a hall runs it: migrated, hall applied, devices added, all via the CLI."""

    def __init__(self, workdir: Path, hall_file: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "engine.log"
        self.env = engine_env(
            f"sqlite+aiosqlite:///{workdir / 'engine.db'}",
            secret_key="kiosk-test-secret-key-0123456789",
            pii_key="kiosk-test-pii-key-0123456789",
            public_base_url=self.base_url,
            access_log="false",
            log_level="warning",
        )
        self.hall_file = hall_file
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"jiaohao {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def set_up(self, hall: str = "kioskhall") -> str:
        """Migrate, apply the hall, add a kiosk; returns the kiosk's token."""
        self.cli("migrate")
        self.cli("hall", "apply", str(self.hall_file))
        out = self.cli("device", "add", "--hall", hall, "--kind", "kiosk", "--name", "kiosk-1")
        return out.strip().splitlines()[-1].strip()

    def add_partner(self, hall: str = "kioskhall") -> tuple[str, str]:
        out = self.cli("partner", "add", "--hall", hall, "--name", "mini-program")
        values = dict(
            line.split(": ", 1)
            for line in out.splitlines()
            if line.startswith(("key id", "secret"))
        )
        return values["key id"].strip(), values["secret"].strip()

    def start(self, within: float = 60.0) -> Engine:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "services.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process = self.process

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"engine exited:\n{self.log()}")
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200

        wait_until(ready, within, "engine ready", log=self.log, ignore=NOT_YET)
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


class KioskProcess:
    """``jiaohao-kiosk`` itself, as the kiosk PC runs it."""

    def __init__(
        self, workdir: Path, engine_url: str, token: str, printer: str, pin: str = "2468"
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = workdir / "kiosk-data"
        self.log_path = workdir / "kiosk.log"
        self.pin = pin
        self.args = [
            "--engine",
            engine_url,
            "--printer",
            printer,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            "info",
        ]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("JIAOHAO_")}
        # Secrets through the environment, as docs/kiosk.md recommends.
        self.env.update({"JIAOHAO_KIOSK_TOKEN": token, "JIAOHAO_KIOSK_STAFF_PIN": pin})
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, within: float = 30.0) -> KioskProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kiosk_client", *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_for(lambda h: h["engine"] == "online" and h["printer"] == "online", within)
        return self

    def health(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.base_url}/healthz", timeout=2).json()
        return data

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], within: float) -> None:
        process = self.process
        assert process is not None

        def check() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"kiosk exited:\n{self.log()}")
            return predicate(self.health())

        wait_until(check, within, "kiosk state", log=self.log, ignore=NOT_YET)

    def unprinted_file(self) -> list[dict[str, Any]]:
        path = self.data_dir / "unprinted.json"
        if not path.exists():
            return []
        tickets: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["tickets"]
        return tickets

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""
