"""/metrics: after a scripted flow the counters say what was done; who may read it;
several worker processes (``jiaohao serve --workers 2``) add up."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from websockets.asyncio.client import connect

from tests.helpers.api import API, act, assert_problem, issue, token
from tests.helpers.app import app_for, serving
from tests.helpers.db import empty_tables
from tests.helpers.halls import Hall, seeded
from tests.helpers.processes import EngineProcess, start
from tests.helpers.waiting import wait_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value (0 when absent: a counter not yet counted)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


async def scrape(client: httpx.AsyncClient, base: str = "") -> Samples:
    response = await client.get(f"{base}/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_counters_equal_the_flow(app, client: httpx.AsyncClient, hall: Hall) -> None:  # type: ignore[no-untyped-def]
    before = await scrape(client)  # counters live as long as the test process
    for _ in range(3):
        await issue(client, hall)
    await issue(client, hall, "estate")
    assert (await act(client, hall, 1, "open")).status_code == 200
    called = []
    for step in ("finish", "no-show"):
        answer = await act(client, hall, 1, "call-next")
        assert answer.status_code == 200, answer.text
        called.append(answer.json()["ticket"]["service"])
        if step == "finish":
            assert (await act(client, hall, 1, "start")).status_code == 200
        assert (await act(client, hall, 1, step)).status_code == 200, step
    after = await scrape(client)

    tickets = "jiaohao_tickets_total"
    h = hall.code  # the hall's code, not its id
    assert delta(after, before, tickets, hall=h, service="business", outcome="issued") == 3
    assert delta(after, before, tickets, hall=h, service="estate", outcome="issued") == 1
    for service in ("business", "estate"):
        assert delta(after, before, tickets, hall=h, service=service, outcome="called") == (
            called.count(service)
        )
    assert delta(after, before, tickets, hall=h, service=called[0], outcome="finished") == 1
    assert delta(after, before, tickets, hall=h, service=called[1], outcome="no_show") == 1
    assert (
        total(after, tickets, outcome="finished") - total(before, tickets, outcome="finished") == 1
    )

    events = "jiaohao_events_published_total"
    assert delta(after, before, events, type="ticket.issued") == 4
    assert delta(after, before, events, type="ticket.called") == 2

    # Waiting now, read from the database: 3 + 1 issued, 2 called.
    waiting = {s: value(after, "jiaohao_queue_waiting", hall=h, service=s) for s in called}
    expected = {"business": 3 - called.count("business"), "estate": 1 - called.count("estate")}
    assert waiting == {s: expected[s] for s in called}
    if expected["business"]:
        assert value(after, "jiaohao_queue_oldest_wait_seconds", hall=h, service="business") >= 0
        assert (
            value(after, "jiaohao_queue_target_wait_seconds", hall=h, service="business") == 20 * 60
        )
    assert value(after, "jiaohao_metrics_database_up") == 1

    # Requests by route template and status; the issue batches' sizes add up to 4.
    count = "jiaohao_http_request_duration_seconds_count"
    issued = {"method": "POST", "route": API + "/{hall}/tickets", "status": "201"}
    assert delta(after, before, count, **issued) == 4
    finished = {"method": "POST", "route": API + "/{hall}/windows/{number}/finish"}
    assert delta(after, before, count, **finished, status="200") == 1
    batches = "jiaohao_group_commit_batch_size"
    assert delta(after, before, f"{batches}_sum", kind="issue") == 4
    assert 1 <= delta(after, before, f"{batches}_count", kind="issue") <= 4
    # A connection held shows; given back, it goes (the engine's own tasks may hold one
    # for a moment: look a few times).
    in_use = "jiaohao_db_pool_connections_in_use"
    async with app.state.sessionmaker() as session:
        await session.execute(text("SELECT 1"))
        assert value(await scrape(client), in_use) >= 1
    for _ in range(50):
        if value(await scrape(client), in_use) == 0:
            break
    else:
        raise AssertionError("the pool's connections were never all given back")


async def test_only_loopback_or_the_token(database_url: str) -> None:
    app = app_for(database_url)
    async with serving(app) as client:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as far:
            assert_problem(await far.get("/metrics"), 403, "forbidden")
        assert (await client.get("/metrics")).status_code == 200
    app = app_for(database_url, metrics_token="prometheus-scrape-token")
    async with serving(app) as client:
        assert_problem(await client.get("/metrics"), 401, "unauthorized")
        wrong = {"Authorization": "Bearer not-the-token"}
        assert_problem(await client.get("/metrics", headers=wrong), 401, "unauthorized")
        right = {"Authorization": "Bearer prometheus-scrape-token"}
        assert (await client.get("/metrics", headers=right)).status_code == 200


def per_process(folder: Path, tmp: Path) -> dict[int, Samples]:
    """Each worker's own counters, from its file of the shared directory."""
    found: dict[int, Samples] = {}
    for path in folder.glob("counter_*.db"):
        pid = int(path.stem.removeprefix("counter_"))
        alone = tmp / f"alone-{pid}"
        alone.mkdir(exist_ok=True)
        shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(alone))
        found[pid] = {
            (s.name, frozenset(s.labels.items())): s.value
            for family in registry.collect()
            for s in family.samples
        }
    return found


async def test_workers_add_up(postgres_url: str, tmp_path: Path) -> None:
    """``jiaohao serve --workers 2``: each worker counts what it committed; /metrics,
    answered by either, shows the sum. Its logs are JSON lines without the screen's
    token (sent in the socket's query, which uvicorn logs)."""
    await empty_tables(postgres_url)
    hall = await seeded(postgres_url)
    folder = tmp_path / "metrics"
    engine = EngineProcess(
        postgres_url,
        tmp_path,
        "workers",
        workers=2,
        env={"PROMETHEUS_MULTIPROC_DIR": str(folder)},
        log_format="json",
    )
    screen = token(hall)
    ws_url = f"ws://127.0.0.1:{engine.port}{API}/{hall.code}/events?token={screen}"
    issued = 0
    tickets = "jiaohao_tickets_total"
    try:
        await start(engine)
        scraped: Samples = {}
        async with httpx.AsyncClient(timeout=10) as http:
            # Both workers up, each with its listener.
            def both_listening() -> bool:
                nonlocal scraped
                response = httpx.get(f"{engine.base_url}/metrics", timeout=5)
                scraped = parse(response.text)
                listening = [
                    v for (n, _), v in scraped.items() if n == "jiaohao_event_listener_connected"
                ]
                return value(scraped, "jiaohao_engine_processes") == 2 and listening == [1, 1]

            wait_until(both_listening, 60, "two workers listening")
            async with connect(ws_url) as ws:
                assert json.loads(await ws.recv())["kind"] == "snapshot"
                assert json.loads(await ws.recv())["kind"] == "live"
                await issue(http, hall, base=engine.base_url)
                issued += 1
                assert json.loads(await ws.recv())["type"] == "ticket.issued"
                open_now = await scrape(http, engine.base_url)
                assert value(open_now, "jiaohao_bus_sockets", hall=hall.code) == 1
                assert value(open_now, "jiaohao_bus_events_delivered_total") >= 1
                assert value(open_now, "jiaohao_bus_delivery_lag_seconds_count") >= 1
            # Fresh connections until both workers have issued some (the kernel hands
            # each connection to one of them).
            while issued < 400:
                for _ in range(10):
                    async with httpx.AsyncClient(timeout=10) as fresh:
                        await issue(fresh, hall, base=engine.base_url)
                    issued += 1
                mine = per_process(folder, tmp_path)
                counts = [total(s, tickets, outcome="issued") for s in mine.values()]
                if len([c for c in counts if c > 0]) >= 2:
                    break
            assert len([c for c in counts if c > 0]) == 2, counts
            assert sum(counts) == issued
            after = await scrape(http, engine.base_url)
        assert value(after, tickets, hall=hall.code, service="business", outcome="issued") == issued
        routes = "jiaohao_http_request_duration_seconds_count"
        posted = {"method": "POST", "route": API + "/{hall}/tickets", "status": "201"}
        assert value(after, routes, **posted) == issued
        assert value(after, "jiaohao_queue_waiting", hall=hall.code, service="business") == issued
        assert value(after, "jiaohao_bus_sockets", hall=hall.code) == 0
        # Each worker's pool: 3 connections and as many overflow (EngineProcess's setting).
        assert value(after, "jiaohao_db_pool_connections_max") == 2 * (3 + 3)
    finally:
        engine.stop()
    lines = [json.loads(line) for line in engine.log().splitlines() if line.strip()]
    assert screen not in engine.log()
    accepted = [x for x in lines if "WebSocket" in x["msg"] and "accepted" in x["msg"]]
    assert accepted and "token=[redacted]" in accepted[0]["msg"], accepted
    access = [
        x for x in lines if x["logger"] == "jiaohao.access" and x["route"].endswith("/tickets")
    ]
    assert len(access) == issued
    assert {x["client"] for x in access} == {"127.0.0.1"}
    assert all(x["caller"].startswith("device:kiosk:") and x["request_id"] for x in access)
