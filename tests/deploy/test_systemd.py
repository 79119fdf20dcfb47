"""The systemd units of deploy/systemd: valid for systemd, hardened, and each one's
command line a console script of this package that takes those arguments.

``systemd-analyze verify`` reads each unit (and the village drop-in) as systemd would
and fails on any complaint; the units name the documented install path
(/opt/jiaohao/venv), which the test points at this environment's scripts. The users
file is applied by ``systemd-sysusers`` to a copy of this machine's user database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import httpx
import pytest

from services.engine.migrate import upgrade
from tests.helpers import ROOT
from tests.helpers.api import API
from tests.helpers.db import new_postgres_database
from tests.helpers.halls import Hall, seeded
from tests.helpers.processes import EngineProcess

UNITS = ROOT / "deploy" / "systemd"
INSTALLED = "/opt/jiaohao/venv/bin/"
SERVICES = sorted(p.name for p in UNITS.glob("*.service"))
# Services that run a long-lived program of ours, hardened to systemd's "OK" level.
HARDENED = ("jiaohao.service", "jiaohao-gateway.service", "jiaohao-kiosk.service")
ENV_FILES = {
    "jiaohao.service": "/etc/jiaohao/engine.env",
    "jiaohao-gateway.service": "/etc/jiaohao/gateway.env",
    "jiaohao-kiosk.service": "/etc/jiaohao/kiosk.env",
}
# Programs from other Debian packages (the kiosk PC's compositor): checked on the PC.
FOREIGN = ("/usr/bin/cage",)


def require_systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        reason = "systemd-analyze is missing (apt-get install systemd)"
        if os.environ.get("JIAOHAO_REQUIRE_SYSTEMD") == "1":
            pytest.fail(f"{reason} (JIAOHAO_REQUIRE_SYSTEMD=1)")
        pytest.skip(reason)
    return found


def unit_lines(text: str) -> list[str]:
    """The unit's lines, continuation lines joined."""
    return text.replace("\\\n", " ").splitlines()


def settings(text: str, key: str) -> list[str]:
    return [
        line.split("=", 1)[1].strip() for line in unit_lines(text) if line.startswith(f"{key}=")
    ]


def environment(*texts: str) -> dict[str, str]:
    """Environment= assignments, later texts winning (as a drop-in over its unit)."""
    env: dict[str, str] = {}
    for text in texts:
        for value in settings(text, "Environment"):
            for word in shlex.split(value):
                name, _, setting = word.partition("=")
                env[name] = setting
    return env


def env_file(name: str, *, commented: bool = False) -> dict[str, str]:
    """An EnvironmentFile's example (with ``commented``, its commented-out lines too)."""
    env: dict[str, str] = {}
    for line in (UNITS / name).read_text(encoding="utf-8").splitlines():
        if commented:
            line = line.removeprefix("#")
        if re.match(r"^[A-Z_]+=", line):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def command_line(exec_start: str, env: dict[str, str]) -> list[str]:
    """ExecStart's words as systemd expands them: ${VAR} as one word, $VAR split."""
    words: list[str] = []
    for word in shlex.split(exec_start):
        if re.fullmatch(r"\$[A-Z_]+", word):
            words += env[word[1:]].split()
        else:
            words.append(re.sub(r"\$\{([A-Z_]+)\}", lambda m: env[m[1]], word))
    return words


def rendered(directory: Path) -> list[Path]:
    """The units, pointed at this environment's scripts, in ``directory``."""
    bin_dir = f"{Path(sys.executable).parent}/"
    paths = []
    for source in [*UNITS.glob("*.service"), *UNITS.glob("*.timer")]:
        text = source.read_text(encoding="utf-8").replace(INSTALLED, bin_dir)
        for program in FOREIGN:
            if not Path(program).exists():
                text = text.replace(f"ExecStart={program} ", "ExecStart=/usr/bin/env ")
        (directory / source.name).write_text(text)
        paths.append(directory / source.name)
    for drop_ins in UNITS.glob("*.d"):
        shutil.copytree(drop_ins, directory / drop_ins.name)
    return paths


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = require_systemd_analyze()
    units = rendered(tmp_path)
    assert {p.name for p in units} >= {*HARDENED, "jiaohao-kiosk-browser.service"}
    done = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    # verify exits 0 on an unknown key or a bad value, but says so: any word is a failure.
    complaints = [line for line in done.stderr.splitlines() if str(tmp_path) in line]
    assert done.returncode == 0 and not complaints, done.stderr


def test_a_broken_unit_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a misspelt value is reported."""
    analyze = require_systemd_analyze()
    unit = tmp_path / "jiaohao.service"
    text = (UNITS / "jiaohao.service").read_text(encoding="utf-8")
    unit.write_text(
        text.replace(INSTALLED, f"{Path(sys.executable).parent}/").replace(
            "ProtectSystem=strict", "ProtectSystem=stricter"
        )
    )
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False
    )
    assert "stricter" in done.stderr


@pytest.mark.parametrize("name", HARDENED)
def test_the_services_are_hardened(tmp_path: Path, name: str) -> None:
    analyze = require_systemd_analyze()
    rendered(tmp_path)
    done = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", str(tmp_path / name)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", done.stdout)
    assert found, done.stdout + done.stderr
    exposure, level = float(found[1]), found[2]
    assert exposure < 2.0 and level == "OK", (name, exposure, level)
    text = (UNITS / name).read_text(encoding="utf-8")
    for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"):
        assert setting in unit_lines(text), (name, setting)
    assert settings(text, "Restart") == ["on-failure"]
    assert settings(text, "User") and settings(text, "User") != ["root"]
    assert settings(text, "EnvironmentFile") == [ENV_FILES[name]]


def console_scripts() -> dict[str, str]:
    return {
        entry.name: entry.value
        for entry in distribution("jiaohao").entry_points
        if entry.group == "console_scripts"
    }


def parse(words: list[str]) -> argparse.Namespace:
    """The arguments as the console script's own parser reads them (exits on an error)."""
    program = Path(words[0]).name
    if program == "jiaohao":
        from services.cli import build_parser

        args: argparse.Namespace = build_parser().parse_args(words[1:])
        return args
    assert program == "jiaohao-kiosk", program
    from kiosk_client.cli import build_parser as kiosk_parser

    kiosk_args: argparse.Namespace = kiosk_parser().parse_args(words[1:])
    return kiosk_args


@pytest.mark.parametrize("name", [s for s in SERVICES if "browser" not in s])
def test_each_unit_runs_an_installed_console_script_with_arguments_it_takes(name: str) -> None:
    text = (UNITS / name).read_text(encoding="utf-8")
    (exec_start,) = settings(text, "ExecStart")
    # The unit's settings with its EnvironmentFile's example over them (systemd lets the
    # file win), and with the example's commented-out alternatives too.
    (file,) = settings(text, "EnvironmentFile")
    example = Path(file).name + ".example"
    env = environment(text)
    for variant in (env | env_file(example), env | env_file(example, commented=True)):
        words = command_line(exec_start, variant)
        assert words[0].startswith(INSTALLED), words
        program = Path(words[0]).name
        assert program in console_scripts(), f"{program} is no console script of the package"
        # The script is installed here, as pip installs it into /opt/jiaohao/venv.
        assert (Path(sys.executable).parent / program).exists()
        parse(words)


def test_the_engine_runs_several_workers_and_the_village_one_process_on_sqlite() -> None:
    unit = (UNITS / "jiaohao.service").read_text(encoding="utf-8")
    village = (UNITS / "jiaohao.service.d" / "village-sqlite.conf").read_text(encoding="utf-8")
    (exec_start,) = settings(unit, "ExecStart")
    city = parse(command_line(exec_start, environment(unit)))
    assert city.command == "serve" and city.workers >= 2
    env = environment(unit, village)
    station = parse(command_line(exec_start, env))
    assert station.workers == 1
    assert env["JIAOHAO_DATABASE_URL"].startswith("sqlite+aiosqlite:////var/lib/jiaohao/")
    assert "/var/lib/jiaohao" in settings(unit, "WorkingDirectory")
    assert settings(unit, "StateDirectory") == ["jiaohao"]  # writable under ProtectSystem=strict


def test_the_gateway_reaches_serial_ports_through_dialout_not_root() -> None:
    for name in ("jiaohao-gateway.service", "jiaohao-kiosk.service"):
        text = (UNITS / name).read_text(encoding="utf-8")
        assert "dialout" in settings(text, "SupplementaryGroups")[0].split(), name
        assert settings(text, "CapabilityBoundingSet") == [""], name
        assert settings(text, "PrivateDevices") == ["no"], name  # the ports stay visible


def test_the_users_file_makes_the_users_and_their_groups(tmp_path: Path) -> None:
    sysusers = shutil.which("systemd-sysusers")
    if sysusers is None:
        require_systemd_analyze()  # the same package: fails in CI, skips elsewhere
        pytest.skip("systemd-sysusers is missing")
    etc = tmp_path / "etc"
    etc.mkdir()
    for name in ("passwd", "group", "shadow", "gshadow"):
        if Path("/etc", name).exists():
            shutil.copy(Path("/etc", name), etc / name)
    done = subprocess.run(
        [sysusers, f"--root={tmp_path}", str(UNITS / "jiaohao.sysusers.conf")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    users = {line.split(":")[0]: line for line in (etc / "passwd").read_text().splitlines()}
    for user in ("jiaohao", "jiaohao-gateway", "jiaohao-kiosk", "jiaohao-screen"):
        assert users[user].endswith(":/usr/sbin/nologin"), users.get(user)
    groups = {
        line.split(":")[0]: line.split(":")[3].split(",")
        for line in (etc / "group").read_text().splitlines()
    }
    assert {"jiaohao-gateway", "jiaohao-kiosk"} <= set(groups["dialout"])
    assert "jiaohao-kiosk" in groups["lp"]
    assert "jiaohao" not in groups["dialout"]
    for name in (*HARDENED, "jiaohao-kiosk-browser.service"):
        (user,) = settings((UNITS / name).read_text(encoding="utf-8"), "User")
        assert user in users, (name, user)


# The units' confinement, as far as it can be had without systemd as PID 1: a mount
# namespace where everything is read-only but /tmp (PrivateTmp gives a private writable
# one; the state directories of these tests live there), no capabilities at all
# (CapabilityBoundingSet=) and no new privileges (NoNewPrivileges=yes).
CONFINE = 'mount --bind /tmp /tmp && mount -o remount,bind,ro / && exec "$@"'


def confinement() -> tuple[str, ...]:
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    reason = None
    if unshare is None or setpriv is None:
        reason = "unshare and setpriv are missing (apt-get install util-linux)"
    else:
        prefix = (
            *(unshare, "--mount", "--propagation", "private", "sh", "-c", CONFINE, "confine"),
            *(setpriv, "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all", "--"),
        )
        probe = subprocess.run(
            [*prefix, "sh", "-c", "grep -q '^CapEff:.0*$' /proc/self/status && ! touch /var/tmp"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            return prefix
        reason = f"cannot confine a process here (root in a mount namespace): {probe.stderr}"
    if os.environ.get("JIAOHAO_REQUIRE_SYSTEMD") == "1":
        pytest.fail(f"{reason} (JIAOHAO_REQUIRE_SYSTEMD=1)")
    pytest.skip(reason)


def serve_args(*texts: str) -> argparse.Namespace:
    """``jiaohao serve``'s arguments as the engine's unit (and drop-ins) give them."""
    (exec_start,) = settings(texts[0], "ExecStart")
    return parse(command_line(exec_start, environment(*texts)))


def issue_through(engine: EngineProcess, hall: Hall) -> None:
    with httpx.Client(base_url=engine.base_url, timeout=15, trust_env=False) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        for _ in range(3):
            issued = http.post(
                f"{API}/{hall.code}/tickets", json={"service": "business"}, headers=hall.h("kiosk")
            )
            assert issued.status_code == 201, issued.text


def assert_clean(engine: EngineProcess) -> None:
    log = engine.log()
    assert "Read-only file system" not in log and "Operation not permitted" not in log, log
    assert "Traceback" not in log, log


def test_the_village_engine_runs_confined_on_sqlite(tmp_path: Path) -> None:
    prefix = confinement()
    unit = (UNITS / "jiaohao.service").read_text(encoding="utf-8")
    village = (UNITS / "jiaohao.service.d" / "village-sqlite.conf").read_text(encoding="utf-8")
    args = serve_args(unit, village)
    state = tmp_path / "var-lib-jiaohao"  # StateDirectory=, the SQLite file's folder
    state.mkdir()
    url = f"sqlite+aiosqlite:///{state}/jiaohao.db"
    upgrade(url)
    hall = asyncio.run(seeded(url))
    engine = EngineProcess(
        url, tmp_path, "village", serve=True, workers=args.workers, prefix=prefix
    )
    try:
        engine.start()
        issue_through(engine, hall)
    finally:
        engine.stop()
    assert_clean(engine)
    assert (state / "jiaohao.db").stat().st_size > 0


def test_the_city_engine_runs_confined_with_its_workers_on_postgres(tmp_path: Path) -> None:
    prefix = confinement()
    unit = (UNITS / "jiaohao.service").read_text(encoding="utf-8")
    args = serve_args(unit)
    assert args.workers >= 2
    (metrics,) = (
        value
        for line in settings(unit, "Environment")
        for key, _, value in [line.partition("=")]
        if key == "PROMETHEUS_MULTIPROC_DIR"
    )
    assert metrics.startswith("/run/jiaohao/")  # RuntimeDirectory=jiaohao: writable
    runtime = tmp_path / "run-jiaohao" / "metrics"
    with new_postgres_database("jiaohao_confined") as url:
        upgrade(url)
        hall = asyncio.run(seeded(url))
        engine = EngineProcess(
            url,
            tmp_path,
            "city",
            workers=args.workers,
            env={"PROMETHEUS_MULTIPROC_DIR": str(runtime)},
            prefix=prefix,
        )
        try:
            engine.start()
            issue_through(engine, hall)
        finally:
            engine.stop()
    assert_clean(engine)
