"""Call-to-screen latency and memory per idle socket, across two engine processes.

Screens are spread over several client processes (one Python process cannot
read thousands of sockets fast enough to be fair to the engine) and alternate
between the two engines, so a call made through engine A must reach screens on
engine B through PostgreSQL LISTEN/NOTIFY. Times are CLOCK_MONOTONIC, which is
one clock for every process on the machine.

The screens speak WebSocket with a lean client of their own (``_Screen``: frame
headers only, JSON decoded after the run), stamped when the bytes reach the
process: the `websockets` library spends tens of microseconds per message, and
with 1,000 screens on a 2-core machine the load generator, not the engine, then
set the figures (``--screen-client websockets`` measures with it, to compare).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import multiprocessing as mp
import os
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


async def _loop_lag(lags: list[float]) -> None:
    """How late this process's event loop wakes up (a busy client inflates latency)."""
    while True:
        asked = time.monotonic()
        await asyncio.sleep(0.005)
        lags.append((time.monotonic() - asked - 0.005) * 1000)


_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _masked_text(text: bytes) -> bytes:
    """A client's text frame (RFC 6455: client frames are masked); short messages only."""
    mask = os.urandom(4)
    return (
        bytes((0x81, 0x80 | len(text))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text))
    )


class _Screen(asyncio.Protocol):
    """One hall screen on a minimal RFC 6455 client: handshake, unmasked server frames,
    pongs. Events are kept raw with the time their bytes reached the process."""

    def __init__(
        self,
        url: str,
        engine: int,
        events: list[tuple[float, int, bytes]],
        on_live: asyncio.Future[None],
    ) -> None:
        parts = urlsplit(url)
        self.key = base64.b64encode(os.urandom(16))
        self.request = (
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {self.key.decode()}\r\nSec-WebSocket-Protocol: jiaohao.v1\r\n\r\n"
        ).encode()
        self.engine = engine
        self.events = events
        self.on_live = on_live
        self.buffer = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.on_live.done():
            self.on_live.set_exception(ConnectionError(f"screen closed before live: {exc}"))

    def data_received(self, data: bytes) -> None:
        at = time.monotonic()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            accept = base64.b64encode(hashlib.sha1(self.key + _WS_GUID).digest()).decode()
            if " 101 " not in head.split("\r\n", 1)[0] or accept not in head:
                raise ConnectionError(f"handshake refused: {head[:80]!r}")
            self.upgraded = True
        buffer = self.buffer
        while len(buffer) >= 2:
            opcode, length, start = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + length:
                return
            payload = bytes(buffer[start : start + length])
            del buffer[: start + length]
            if opcode == 0x1:
                self.text(payload, at)
            elif opcode == 0x9 and self.transport is not None:  # a protocol ping
                mask = os.urandom(4)
                self.transport.write(
                    bytes((0x8A, 0x80 | len(payload)))
                    + mask
                    + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                )
            elif opcode == 0x8 and self.transport is not None:
                self.transport.close()

    def text(self, payload: bytes, at: float) -> None:
        kind = payload[:16]  # the engine writes compact JSON: {"kind":"...",...
        if kind.startswith(b'{"kind":"event"'):
            self.events.append((at, self.engine, payload))
        elif kind.startswith(b'{"kind":"ping"') and self.transport is not None:
            self.transport.write(_masked_text(b'{"kind":"pong"}'))
        elif kind.startswith(b'{"kind":"live"') and not self.on_live.done():
            self.on_live.set_result(None)


async def _lean_screens(
    urls: list[str], engines: dict[str, int], count: int, pipe: Connection
) -> None:
    """As ``_screens``, on the lean client."""
    loop = asyncio.get_running_loop()
    events: list[tuple[float, int, bytes]] = []
    transports: list[asyncio.BaseTransport] = []
    handshakes = asyncio.Semaphore(HANDSHAKES_PER_PROCESS)

    async def screen(url: str) -> None:
        parts = urlsplit(url)
        async with handshakes:
            live: asyncio.Future[None] = loop.create_future()
            transport, _ = await loop.create_connection(
                lambda: _Screen(url, engines[url], events, live),
                parts.hostname,
                parts.port,
            )
            transports.append(transport)
            await asyncio.wait_for(live, 120)

    half = count // 2
    await asyncio.gather(*(screen(urls[i % len(urls)]) for i in range(half)))
    pipe.send("half")
    await loop.run_in_executor(None, pipe.recv)  # "more"
    await asyncio.gather(*(screen(urls[i % len(urls)]) for i in range(half, count)))
    pipe.send("live")
    await loop.run_in_executor(None, pipe.recv)  # "calls"
    lags: list[float] = []
    lag = asyncio.create_task(_loop_lag(lags))
    await loop.run_in_executor(None, pipe.recv)  # "report"
    lag.cancel()
    received: dict[str, list[tuple[float, int]]] = {}
    for at, engine, payload in events:
        received.setdefault(json.loads(payload)["data"]["number"], []).append((at, engine))
    pipe.send((received, lags))
    for transport in transports:
        transport.close()


async def _screens(urls: list[str], engines: dict[str, int], count: int, pipe: Connection) -> None:
    """Open ``count`` screens in two halves, reporting "half" and "live" on the pipe."""
    from websockets.asyncio.client import connect

    # number -> [(receipt time, index of the engine the screen is on)]
    received: dict[str, list[tuple[float, int]]] = {}
    live = 0
    ready = asyncio.Event()
    sockets = []
    # Screens come up a few at a time (as after a power cut, with the client's
    # jittered backoff), not as one burst of thousands of handshakes.
    handshakes = asyncio.Semaphore(HANDSHAKES_PER_PROCESS)

    async def screen(url: str) -> None:
        nonlocal live
        engine = engines[url]
        async with handshakes:
            ws = await connect(url, subprotocols=["jiaohao.v1"], max_queue=64, open_timeout=120)  # type: ignore[list-item]
            sockets.append(ws)
            first = await ws.recv()  # the snapshot
        del first
        async for raw in ws:
            message = json.loads(raw)
            kind = message.get("kind")
            if kind == "event":
                received.setdefault(message["data"]["number"], []).append(
                    (time.monotonic(), engine)
                )
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
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "calls"
    lags: list[float] = []
    lag = asyncio.create_task(_loop_lag(lags))
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "report"
    lag.cancel()
    pipe.send((received, lags))
    for ws in sockets:
        await ws.close()
    for task in tasks:
        task.cancel()


def _screen_process(
    urls: list[str], engines: dict[str, int], count: int, pipe: Connection, client: str
) -> None:
    screens = _lean_screens if client == "lean" else _screens
    asyncio.run(screens(urls, engines, count, pipe))


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
    urls: list[str], pids: list[int], setup: Any, screens: int, processes: int, client: str
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ws_urls = [_ws_url(u, "bench", setup.display_token) for u in urls]
    rss_before = _rss_kb(pids)
    per = [screens // processes + (1 if i < screens % processes else 0) for i in range(processes)]
    pipes, procs = [], []
    for i, n in enumerate(per):
        parent, child = ctx.Pipe()
        # Rotate the engine order so every process has screens on both engines.
        order = ws_urls[i % 2 :] + ws_urls[: i % 2]
        engines = {url: e for e, url in enumerate(ws_urls)}
        proc = ctx.Process(
            target=_screen_process, args=(order, engines, n, child, client), daemon=True
        )
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

    for pipe in pipes:
        pipe.send("calls")
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
    # The call goes through engine 0: its own screens get it from the commit, engine
    # 1's through NOTIFY and an outbox read.
    by_engine: dict[int, list[float]] = {0: [], 1: []}
    lags: list[float] = []
    got = 0
    for pipe in pipes:
        pipe.send("report")
    for pipe in pipes:
        received, lagged = await loop.run_in_executor(None, pipe.recv)
        lags.extend(lagged)
        for number, times in received.items():
            if number in sent:
                got += len(times)
                for t, engine in times:
                    latency = max(t - sent[number], 0.0) * 1000
                    latencies.append(latency)
                    by_engine.setdefault(engine, []).append(latency)
    for proc in procs:
        proc.join(timeout=30)
    return {
        "screens": screens,
        "screen_processes": processes,
        "screen_client": client,
        "calls": CALLS,
        "expected": CALLS * screens,
        "received": got,
        "p50_ms": _percentile(latencies, 50),
        "p99_ms": _percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "by_engine": {
            str(e): {"p50_ms": _percentile(v, 50), "p99_ms": _percentile(v, 99)}
            for e, v in by_engine.items()
        },
        # Load generator check: how late the screen processes' loops woke during the calls.
        "client_loop_lag_p99_ms": _percentile(lags, 99),
        "client_loop_lag_max_ms": max(lags) if lags else float("nan"),
        "rss_before_kb": rss_before,
        "rss_half_kb": rss_half,
        "rss_live_kb": rss_live,
        "idle_socket_kb": (rss_live - rss_half) / (screens - sum(n // 2 for n in per)),
    }


async def measure(
    urls: list[str],
    pids: list[int],
    setup: Any,
    counts: list[int],
    processes: int = CLIENT_PROCESSES,
    client: str = "lean",
) -> dict[str, Any]:
    """Latency for each screen count; memory per idle socket from the largest run."""
    # The call-next runs need waiting tickets and open windows.
    from bench.run import fill_queue

    await fill_queue(setup, 4_000)
    out: dict[str, Any] = {}
    for count in counts:
        out[f"screens_{count}"] = await _measure_one(urls, pids, setup, count, processes, client)
    largest = out[f"screens_{max(counts)}"]
    out["idle_socket_kb"] = largest["idle_socket_kb"]
    return out
