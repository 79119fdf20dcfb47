"""Call-to-screen latency and memory per idle socket, across two engine processes.

Screens are spread over several client processes (one Python process cannot
read thousands of sockets fast enough to be fair to the engine) and alternate
between the two engines, so a call made through engine A must reach screens on
engine B through PostgreSQL LISTEN/NOTIFY. Times are CLOCK_MONOTONIC, which is
one clock for every process on the machine.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

CLIENT_PROCESSES = 4
CALLS = 20
CALL_SPACING_S = 0.3
HANDSHAKES_PER_PROCESS = 16


def _ws_url(base: str, hall: str, token: str) -> str:
    return (
        base.replace("http://", "ws://", 1)
        + f"/api/v1/halls/{hall}/events?token={token}&topics=ticket.called"
    )


async def _screens(urls: list[str], count: int, pipe: Connection) -> None:
    """Open ``count`` screens in two halves, reporting "half" and "live" on the pipe."""
    from websockets.asyncio.client import connect

    received: dict[str, list[float]] = {}
    live = 0
    ready = asyncio.Event()
    sockets = []
    # Screens come up a few at a time (as after a power cut, with the client's
    # jittered backoff), not as one burst of thousands of handshakes.
    handshakes = asyncio.Semaphore(HANDSHAKES_PER_PROCESS)

    async def screen(url: str) -> None:
        nonlocal live
        async with handshakes:
            ws = await connect(url, subprotocols=["jiaohao.v1"], max_queue=64, open_timeout=120)  # type: ignore[list-item]
            sockets.append(ws)
            first = await ws.recv()  # the snapshot
        del first
        async for raw in ws:
            message = json.loads(raw)
            kind = message.get("kind")
            if kind == "event":
                received.setdefault(message["data"]["number"], []).append(time.monotonic())
            elif kind == "live":
                live += 1
                if live in (half, count):
                    ready.set()
            elif kind == "ping":
                await ws.send('{"kind": "pong"}')

    half = count // 2
    tasks = [asyncio.create_task(screen(urls[i % len(urls)])) for i in range(half)]
    await asyncio.wait_for(ready.wait(), timeout=600)
    ready.clear()
    pipe.send("half")
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "more"
    tasks += [asyncio.create_task(screen(urls[i % len(urls)])) for i in range(half, count)]
    await asyncio.wait_for(ready.wait(), timeout=600)
    pipe.send("live")
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "report"
    pipe.send(received)
    for ws in sockets:
        await ws.close()
    for task in tasks:
        task.cancel()


def _screen_process(urls: list[str], count: int, pipe: Connection) -> None:
    asyncio.run(_screens(urls, count, pipe))


def _rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def _measure_one(
    urls: list[str], pids: list[int], setup: Any, screens: int
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ws_urls = [_ws_url(u, "bench", setup.display_token) for u in urls]
    rss_before = _rss_kb(pids)
    per = [
        screens // CLIENT_PROCESSES + (1 if i < screens % CLIENT_PROCESSES else 0)
        for i in range(CLIENT_PROCESSES)
    ]
    pipes, procs = [], []
    for i, n in enumerate(per):
        parent, child = ctx.Pipe()
        # Rotate the engine order so every process has screens on both engines.
        order = ws_urls[i % 2 :] + ws_urls[: i % 2]
        proc = ctx.Process(target=_screen_process, args=(order, n, child), daemon=True)
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    loop = asyncio.get_running_loop()
    # Memory: weigh the engines with half the screens idle, then with all of them;
    # the growth over the second half is what an idle socket costs (the first half
    # absorbs one-time growth such as caches and pool connections).
    for pipe in pipes:
        assert await loop.run_in_executor(None, pipe.recv) == "half"
    await asyncio.sleep(2)
    rss_half = _rss_kb(pids)
    for pipe in pipes:
        pipe.send("more")
    for pipe in pipes:
        assert await loop.run_in_executor(None, pipe.recv) == "live"
    await asyncio.sleep(2)
    rss_live = _rss_kb(pids)

    sent: dict[str, float] = {}
    kiosk = {"Authorization": f"Bearer {setup.kiosk_token}"}
    gateway = {"Authorization": f"Bearer {setup.gateway_token}"}
    async with httpx.AsyncClient(base_url=urls[0], timeout=30) as http:
        for i in range(CALLS):
            await http.post("/api/v1/halls/bench/tickets", json={"service": "s1"}, headers=kiosk)
            window = 1 + (i % 40)
            response = await http.post(
                f"/api/v1/halls/bench/windows/{window}/call-next", headers=gateway
            )
            t_response = time.monotonic()
            response.raise_for_status()
            sent[response.json()["ticket"]["number"]] = t_response
            await asyncio.sleep(CALL_SPACING_S)
    await asyncio.sleep(2)
    latencies: list[float] = []
    got = 0
    for pipe in pipes:
        pipe.send("report")
    for pipe in pipes:
        received: dict[str, list[float]] = await loop.run_in_executor(None, pipe.recv)
        for number, times in received.items():
            if number in sent:
                got += len(times)
                latencies.extend(max(t - sent[number], 0.0) * 1000 for t in times)
    for proc in procs:
        proc.join(timeout=30)
    return {
        "screens": screens,
        "calls": CALLS,
        "expected": CALLS * screens,
        "received": got,
        "p50_ms": _percentile(latencies, 50),
        "p99_ms": _percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "rss_before_kb": rss_before,
        "rss_half_kb": rss_half,
        "rss_live_kb": rss_live,
        "idle_socket_kb": (rss_live - rss_half) / (screens - sum(n // 2 for n in per)),
    }


async def measure(
    urls: list[str], pids: list[int], setup: Any, counts: list[int]
) -> dict[str, Any]:
    """Latency for each screen count; memory per idle socket from the largest run."""
    # The call-next runs need waiting tickets and open windows.
    from bench.run import fill_queue

    await fill_queue(setup, 4_000, day_offset=1)
    out: dict[str, Any] = {}
    for count in counts:
        out[f"screens_{count}"] = await _measure_one(urls, pids, setup, count)
    largest = out[f"screens_{max(counts)}"]
    out["idle_socket_kb"] = largest["idle_socket_kb"]
    return out
