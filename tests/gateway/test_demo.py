"""``make demo`` works: one command starts the hall, a newcomer's keys drive it, Ctrl-C ends it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.helpers import ROOT
from tests.helpers.net import free_port

pytestmark = pytest.mark.slow


class Output:
    """A process's stdout, line by line, waited on without sleeping."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        with self._cond:
            found = self._cond.wait_for(lambda: any(text in line for line in self.lines), timeout)
            assert found, f"never printed {text!r}:\n" + "\n".join(self.lines[-40:])
            return next(line for line in self.lines if text in line)


def test_make_demo_runs_the_hall_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port, kiosk_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy/demo/run_demo.py"), "--port", str(port),
         "--kiosk-port", str(kiosk_port), "--dir", str(tmp_path / "demo")],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, bufsize=1,
    )  # fmt: skip
    out = Output(process)
    assert process.stdin is not None

    def type_(command: str) -> None:
        assert process.stdin is not None
        process.stdin.write(command + "\n")
        process.stdin.flush()

    try:
        out.wait_for("Ctrl-C stops everything.", 120)
        display = out.wait_for("hall display")
        url = re.search(r"http://\S+/display/demo\?token=jhd_\S+", display)
        assert url is not None, display
        assert httpx.get(url.group(0), timeout=10).status_code == 200
        kiosk = httpx.get(f"http://127.0.0.1:{kiosk_port}/", timeout=10)
        assert kiosk.status_code == 200 and "text/html" in kiosk.headers["content-type"]

        type_("ticket business")
        out.wait_for("ticket A001")
        type_("press 1 call_next")
        out.wait_for("LED board of window 1 shows: 请A001号到1号窗口")
        type_("press 1 finish")
        out.wait_for("请您评价")
        type_("rate 1 5")
        out.wait_for("[gateway] A001 rated 5")
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
        out.wait_for("demo stopped")
    finally:
        if process.poll() is None:  # a failure above: let the demo stop its children
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
