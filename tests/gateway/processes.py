"""Real processes for the gateway's end-to-end tests: the CLI and the gateway (the engine:
tests.helpers.processes)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


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


# Windows 1-3 have a keypad, a pad and a board; window 4 only a board.
DEVICES = [
    ("keypad", 1, 1, "ff68"), ("keypad", 2, 2, "ff68"), ("keypad", 3, 3, "jh"),
    ("evaluator", 11, 1, "ff68"), ("evaluator", 12, 2, "ff68"), ("evaluator", 13, 3, "jh"),
    ("led", 21, 1, "jh"), ("led", 22, 2, "jh"), ("led", 23, 3, "jh"), ("led", 24, 4, "jh"),
]  # fmt: skip


def gateway_config(path: Path, port: Path, hall: str = "testhall") -> None:
    """A gateway config for the test hall's devices (DEVICES) on one bus at ``port``."""
    devices = "".join(
        f'[[buses.devices]]\nkind = "{k}"\naddress = {a}\nwindow = {w}\nprotocol = "{p}"\n'
        for k, a, w, p in DEVICES
    )
    path.write_text(
        f'hall = "{hall}"\nevaluation_timeout = 60\nhealth_interval = 2\n'
        'action_retry_seconds = 60\nclosed_text = "窗口已关闭"\n'
        f'[[buses]]\nname = "hall"\nport = "{port}"\n'
        "response_timeout = 0.1\nretries = 2\npoll_interval = 0.05\n"
        "backoff_initial = 0.2\nbackoff_max = 0.5\n" + devices,
        encoding="utf-8",
    )
