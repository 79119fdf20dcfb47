"""``make demo``: a whole hall on one PC, to watch it work.

Starts, on a fresh SQLite database (var/demo/), the ticket engine with the demo hall,
simulated hall devices on pseudo-terminals (keypads, evaluation pads and LED boards
for windows 1-3, and the kiosk's ticket printer), the hall device gateway that drives
them, and the kiosk client; prints what to open in a browser; then reads simulator
commands from this terminal (type ``help``). Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from drivers.config import load_toml
from drivers.simulators.cli import SimulatedHall

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
HALL = "demo"
SERVICES = ("business", "estate", "social", "consult")
PTY_DIR = "/tmp/jiaohao-demo"  # where deploy/demo/devices.toml puts the ports

COMMANDS = """\
Type commands here (the simulated devices of windows 1-3):
  press 1 call_next     the clerk at window 1 presses 呼叫: the LED board, the keypad and
                        the hall display show the number
  press 1 recall        重呼        press 1 no_show   过号        press 1 pause   暂停/恢复
  press 1 finish        办结: window 1's evaluation pad lights up 请评价 (it never picks)
  rate 1 5              the citizen rates it, 5 非常满意 ... 1 非常不满意 (within 30 s)
  unplug led:2          pull window 2's LED board; `plug led:2` puts it back
                        (also keypad:N, evaluator:N, or `unplug hall` for the whole bus)
  ticket business       take a ticket without the kiosk page ({services})
  show                  what every board, keypad and pad shows now
  help                  the simulator's own list of commands
Ctrl-C stops everything."""


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Child:
    """A child process in a session of its own (so Ctrl-C reaches only us), logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _wait(what: str, check: Any, child: Child, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.running():
            raise SystemExit(f"{child.name} stopped while {what}:\n{child.tail()}")
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out while {what}; see {child.log_path}:\n{child.tail()}")


def _jiaohao(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"jiaohao {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _token(env: dict[str, str], kind: str) -> str:
    out = _jiaohao(env, "device", "add", "--hall", HALL, "--kind", kind, "--name", f"demo-{kind}")
    return out.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="the engine's port (8000)")
    parser.add_argument("--kiosk-port", type=int, default=8080, help="the kiosk page's port")
    parser.add_argument("--dir", default=str(ROOT / "var" / "demo"), help="database and logs")
    args = parser.parse_args(argv)

    for port, flag in ((args.port, "--port"), (args.kiosk_port, "--kiosk-port")):
        if not _port_free(port):
            print(
                f"port {port} is in use; try: make demo DEMO_ARGS='{flag} {port + 1}'",
                file=sys.stderr,
            )
            return 2
    work = Path(args.dir)
    shutil.rmtree(work, ignore_errors=True)  # a fresh hall every time
    work.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIAOHAO_")}
    env.update(
        JIAOHAO_DATABASE_URL=f"sqlite+aiosqlite:///{work / 'demo.db'}",
        JIAOHAO_ACCESS_LOG="false",
        JIAOHAO_PUBLIC_BASE_URL=f"http://127.0.0.1:{args.port}",
        # Keys of its own, random, written by `jiaohao keys` below (mode 0600).
        JIAOHAO_KEY_DIR=str(work / "keys"),
    )
    print("setting up the demo hall (fresh database in var/demo/) ...", flush=True)
    _jiaohao(env, "keys")
    _jiaohao(env, "migrate")
    _jiaohao(env, "hall", "apply", str(ROOT / "deploy/halls/demo.toml"))
    tokens = {kind: _token(env, kind) for kind in ("gateway", "kiosk", "display")}
    password = secrets.token_urlsafe(9)
    _jiaohao(
        env, "user", "add", "--hall", HALL, "--role", "staff", "--username", "demo-staff",
        "--password-stdin", stdin=password + "\n",
    )  # fmt: skip

    # Copies of the device files with the pseudo-terminals under <dir>/dev, so the demo
    # is self-contained (and a second one elsewhere does not take over its ports).
    for name in ("devices.toml", "gateway.toml"):
        text = (HERE / name).read_text(encoding="utf-8")
        (work / name).write_text(text.replace(PTY_DIR, str(work / "dev")), encoding="utf-8")
    devices = load_toml(str(work / "devices.toml"))
    printer = devices.printers[0].port  # the kiosk prints where the simulator listens
    hall_devices = SimulatedHall(devices)
    children: list[Child] = []
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    sim_log = logging.getLogger("drivers.simulators")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  [devices %(asctime)s] %(message)s", "%H:%M:%S"))
    sim_log.addHandler(handler)
    sim_log.setLevel(logging.INFO)
    sim_log.propagate = False
    engine_url = f"http://127.0.0.1:{args.port}"
    http = httpx.Client(base_url=engine_url, timeout=5)
    try:
        hall_devices.start()
        engine = Child(
            "engine",
            [sys.executable, "-m", "services.cli", "serve", "--host", "127.0.0.1",
             "--port", str(args.port)],
            env,
            work,
        )  # fmt: skip
        children.append(engine)
        _wait(
            "the engine starts",
            lambda: http.get("/healthz").status_code == 200,
            engine,
        )
        gateway = Child(
            "gateway",
            [sys.executable, "-m", "services.cli", "gateway", "--engine", engine_url,
             "--config", str(work / "gateway.toml")],
            {**env, "JIAOHAO_GATEWAY_TOKEN": tokens["gateway"]},
            work,
        )  # fmt: skip
        children.append(gateway)
        display = {"Authorization": f"Bearer {tokens['display']}"}

        def gateway_online() -> bool:
            body = http.get(f"/api/v1/halls/{HALL}/devices", headers=display).json()
            return any(
                r["kind"] == "gateway" and r["status"] == "online" and r["devices"]
                for r in body["reporters"]
            )

        _wait("the gateway connects", gateway_online, gateway)
        kiosk_url = f"http://127.0.0.1:{args.kiosk_port}"
        kiosk = Child(
            "kiosk",
            [sys.executable, "-m", "kiosk_client", "--engine", engine_url,
             "--printer", printer,
             "--port", str(args.kiosk_port), "--data-dir", str(work / "kiosk")],
            {**env, "JIAOHAO_KIOSK_TOKEN": tokens["kiosk"]},
            work,
        )  # fmt: skip
        children.append(kiosk)
        _wait(
            "the kiosk starts", lambda: httpx.get(f"{kiosk_url}/healthz").status_code == 200, kiosk
        )

        print(
            f"""
jiaohao demo is running: hall '{HALL}' (演示政务服务中心), windows 1-5, all closed.
  hall display (综合屏):  {engine_url}/display/{HALL}?token={tokens["display"]}
  kiosk page (取号机):    {kiosk_url}   (tickets print on the simulated printer)
  API and its docs:      {engine_url}/docs   (log in as demo-staff / {password})
  device health:         {engine_url}/api/v1/halls/{HALL}/devices  (Bearer {tokens["display"]})
  logs:                  {work}/engine.log, gateway.log, kiosk.log
""",
            flush=True,
        )
        print(COMMANDS.format(services=", ".join(SERVICES)), flush=True)
        threading.Thread(target=_echo_gateway, args=(gateway.log_path, stop), daemon=True).start()
        reader = threading.Thread(
            target=_read_commands,
            args=(hall_devices, http, tokens["kiosk"], stop),
            daemon=True,
        )
        reader.start()
        while not stop.wait(0.5):
            for child in children:
                if not child.running():
                    print(f"{child.name} stopped:\n{child.tail()}", file=sys.stderr)
                    stop.set()
        return 0
    finally:
        print("\nstopping the demo ...", flush=True)
        for child in reversed(children):
            child.stop()
        hall_devices.stop()
        http.close()
        for sig, old in previous.items():
            signal.signal(sig, old)
        sim_log.removeHandler(handler)
        print("demo stopped", flush=True)


def _echo_gateway(path: Path, stop: threading.Event) -> None:
    """Show what the gateway does (calls, ratings, 未评价, devices) among the device lines."""
    with path.open(encoding="utf-8", errors="replace") as log:
        log.seek(0, os.SEEK_END)
        while not stop.is_set():
            line = log.readline()
            if not line:
                stop.wait(0.2)
                continue
            if " services.gateway: " in line:
                print(f"  [gateway] {line.split(' services.gateway: ', 1)[1].rstrip()}", flush=True)


def _read_commands(
    hall_devices: SimulatedHall, http: httpx.Client, kiosk_token: str, stop: threading.Event
) -> None:
    for line in sys.stdin:
        words = shlex.split(line) if line.strip() else []
        if not words:
            continue
        if words[0] in ("quit", "exit"):
            stop.set()
            return
        if words[0] == "ticket":
            service = words[1] if len(words) > 1 else "business"
            response = http.post(
                f"/api/v1/halls/{HALL}/tickets",
                json={"service": service},
                headers={"Authorization": f"Bearer {kiosk_token}"},
            )
            body = response.json()
            if response.status_code == 201:
                print(f"ticket {body['number']} ({body['service_name']})", flush=True)
            else:
                print(f"? {body.get('detail')}", flush=True)
            continue
        reply = hall_devices.command(line)
        if reply:
            print(reply, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
