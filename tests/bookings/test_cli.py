"""``jiaohao partner add`` prints the partner key once, and the key signs requests."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx

from tests.helpers.bookings import PartnerClient
from tests.helpers.cli import engine_env
from tests.helpers.halls import Hall


async def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def test_partner_add_prints_a_working_key(
    database_url: str, client: httpx.AsyncClient, bhall: Hall
) -> None:
    env = engine_env(database_url)
    command = [
        sys.executable,
        "-m",
        "services.cli",
        "partner",
        "add",
        "--hall",
        bhall.code,
        "--name",
        "wx",
        "--webhook",
        "https://partner.example/hook",
    ]
    done = await run(command, env)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    key_id, secret = lines["key id"], lines["secret"]
    assert key_id.startswith("jhp_") and secret.startswith("jhs_")

    partner = PartnerClient(client, key_id, secret, bhall.code, 0)
    assert (await partner.get("/services")).status_code == 200
    again = await run(command, env)
    assert again.returncode == 2 and "already has a partner" in again.stderr
    bad_url = [*command[:8], "wx2", "--webhook", "ftp://partner.example/hook"]
    bad = await run(bad_url, env)
    assert bad.returncode == 2 and "webhook must be an http(s) URL" in bad.stderr
