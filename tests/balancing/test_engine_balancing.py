"""Balancing in the engine, on both databases: helping an aged secondary queue, wait
estimates in the responses, tidal windows (auto and recommend) with their log and events."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text, update

from services.engine.balancing import service as balancing
from services.engine.core.db import utcnow
from services.engine.core.errors import HallConfigInvalid
from services.engine.events import outbox
from services.engine.events.models import HallEvent
from services.engine.halls.service import get_hall
from services.engine.setup.apply import apply_hall_file
from services.engine.setup.hall_file import parse_hall_file
from services.engine.tickets.models import Ticket
from services.engine.windows.models import Window, WindowService
from tests.helpers.api import API, act, issue
from tests.helpers.halls import Hall, seed_hall

HALL_FILE = Path(__file__).parent / "data" / "balancing-hall.toml"


@pytest.fixture
async def bal(app, client: httpx.AsyncClient) -> Hall:  # type: ignore[no-untyped-def]
    return await seed_hall(app, client, HALL_FILE)


async def queued_minutes_ago(app, ticket_id: int, minutes: float) -> None:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(queued_at=utcnow() - timedelta(minutes=minutes))
        )
        await session.commit()


async def event_types(app, hall_code: str) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        hall = await get_hall(session=session, code=hall_code)
        rows = await session.execute(
            select(HallEvent.type, HallEvent.payload)
            .where(HallEvent.hall_id == hall.id)
            .order_by(HallEvent.seq)
        )
        return [(t, p) for t, p in rows.all()]


async def test_window_helps_a_secondary_queue_that_has_aged(
    app, client: httpx.AsyncClient, bal: Hall
) -> None:  # type: ignore[no-untyped-def]
    assert (await act(client, bal, 1, "open")).status_code == 200
    # Window 2 (estate's own window) is closed: estate's queue ages.
    estate = await issue(client, bal, "estate")
    business = await issue(client, bal, "business")
    await queued_minutes_ago(app, estate["id"], 30)  # 30/20 of target: overdue
    await queued_minutes_ago(app, business["id"], 5)  # 5/20 of target
    called = await act(client, bal, 1, "call-next")
    assert called.status_code == 200, called.text
    assert called.json()["ticket"]["number"] == estate["number"]
    # Once it has helped, its own service comes first again while the secondary is fresh.
    estate2 = await issue(client, bal, "estate")
    await queued_minutes_ago(app, estate2["id"], 8)  # 8/20 x 0.5 = 0.2 < business 5/20
    called = await act(client, bal, 1, "call-next")
    assert called.json()["ticket"]["number"] == business["number"]
    # Nothing of its own waits: the window helps at once.
    called = await act(client, bal, 1, "call-next")
    assert called.json()["ticket"]["number"] == estate2["number"]


async def test_primary_first_while_the_secondary_is_fresh(
    app, client: httpx.AsyncClient, bal: Hall
) -> None:  # type: ignore[no-untyped-def]
    await act(client, bal, 1, "open")
    estate = await issue(client, bal, "estate")
    business = await issue(client, bal, "business")
    await queued_minutes_ago(app, estate["id"], 10)  # 10/20 x 0.5 = 0.25
    await queued_minutes_ago(app, business["id"], 6)  # 6/20 = 0.30
    called = await act(client, bal, 1, "call-next")
    assert called.json()["ticket"]["number"] == business["number"]


async def test_wait_estimates_on_issue_lookup_and_queues(
    app, client: httpx.AsyncClient, bal: Hall
) -> None:  # type: ignore[no-untyped-def]
    # No open window serves business yet: no estimate, and the text says so.
    before = await issue(client, bal, "business")
    assert before["estimated_wait_minutes"] is None
    assert before["wait_text"] == "前方还有 0 人，暂无法预计等待时间"
    await act(client, bal, 1, "open")
    looked = (
        await client.get(f"{API}/{bal.code}/tickets/{before['id']}", headers=bal.h("display"))
    ).json()
    assert looked["estimated_wait_minutes"] == 0  # an idle window takes it now
    assert looked["wait_text"] == "前方还有 0 人，预计等待 0 分钟"

    await act(client, bal, 1, "call-next")  # A001 in hand for ~10 minutes (the configured average)
    second = await issue(client, bal, "business")
    third = await issue(client, bal, "business")
    # First in line: the median of A001's handle time (lognormal, mean 10 min,
    # cv 0.6: 10 / sqrt(1.36) = 8.6 min), shown rounded up.
    assert second["estimated_wait_minutes"] == 9
    assert second["wait_text"] == "前方还有 0 人，预计等待 9 分钟"
    assert 19 <= third["estimated_wait_minutes"] <= 21
    assert third["wait_text"].startswith("前方还有 1 人，预计等待")
    # Priority tickets are called first: they are told so.
    priority = await issue(client, bal, "business", priority="priority", who="staff")
    assert priority["wait_text"].startswith("前方还有 0 人")
    assert priority["waiting_ahead"] == 0  # one "ahead" number: the same as wait_text

    queues = (await client.get(f"{API}/{bal.code}/queues", headers=bal.h("display"))).json()[
        "queues"
    ]
    by = {q["service"]: q for q in queues}
    assert by["business"]["waiting"] == 3
    assert by["business"]["estimated_wait_minutes"] > third["estimated_wait_minutes"]
    assert by["business"]["wait_text"].startswith("前方还有 3 人")
    # Window 1 helps estate: an estimate exists; consult's only window is closed: none.
    assert by["estate"]["estimated_wait_minutes"] is not None
    assert by["consult"]["estimated_wait_minutes"] is None


async def test_handle_time_average_learns_from_finished_tickets(
    app, client: httpx.AsyncClient, bal: Hall
) -> None:  # type: ignore[no-untyped-def]
    await act(client, bal, 1, "open")
    first = await issue(client, bal, "business")
    await act(client, bal, 1, "call-next")
    await act(client, bal, 1, "finish")
    async with app.state.sessionmaker() as session:
        # It took 30 minutes at the window.
        now = utcnow()
        await session.execute(
            update(Ticket)
            .where(Ticket.id == first["id"])
            .values(called_at=now - timedelta(minutes=30), finished_at=now)
        )
        await session.commit()
        hall = await get_hall(session=session, code=bal.code)
        board = await balancing.wait_board(session, hall, now)
    averages = sorted(board.handle.values())
    # Business: seeded at 10 minutes, moved towards 30 (alpha 0.2): 14 minutes.
    # Estate keeps its configured 10, consult its 4.
    assert averages == pytest.approx([4 * 60, 10 * 60, 14 * 60], rel=0.01)


async def test_tidal_auto_opens_and_closes_a_tidal_window(
    app, client: httpx.AsyncClient, bal: Hall
) -> None:  # type: ignore[no-untyped-def]
    tickets = [await issue(client, bal, "business") for _ in range(3)]  # high mark 3
    windows = (await client.get(f"{API}/{bal.code}/windows", headers=bal.h("display"))).json()
    assert "business" in windows[2]["services"]
    events = await event_types(app, bal.code)
    changed = [p for t, p in events if t == "tidal.changed"]
    assert changed == [
        {
            "service": "business",
            "service_name": "企业开办",
            "action": "open",
            "windows": [3],
            "reason": "3 waiting >= high mark 3",
            "waiting": 3,
            "estimated_wait_minutes": None,
        }
    ]
    # The tidal window calls business tickets.
    await act(client, bal, 3, "open")
    called = await act(client, bal, 3, "call-next")
    assert called.json()["ticket"]["number"] == tickets[0]["number"]
    await act(client, bal, 3, "finish")

    # Down to one waiting: calm, but held for 10 minutes before closing.
    await client.post(f"{API}/{bal.code}/tickets/{tickets[1]['id']}/cancel", headers=bal.h("staff"))
    overview = await client.post(f"{API}/{bal.code}/tidal/evaluate", headers=bal.h("manager"))
    assert overview.status_code == 200, overview.text
    state = overview.json()["states"][0]
    assert state["service"] == "business" and state["active"] and state["calm_since"]
    async with app.state.sessionmaker() as session:
        hall = await get_hall(session=session, code=bal.code)
        assert await balancing.evaluate_tidal(session, hall, utcnow() + timedelta(minutes=5)) == []
        await outbox.commit(session)
    async with app.state.sessionmaker() as session:
        hall = await get_hall(session=session, code=bal.code)
        closed = await balancing.evaluate_tidal(session, hall, utcnow() + timedelta(minutes=11))
        assert [(c.action, c.windows) for c in closed] == [("close", [3])]
        await outbox.commit(session)

    windows = (await client.get(f"{API}/{bal.code}/windows", headers=bal.h("display"))).json()
    assert windows[2]["services"] == {"consult": 1.0}
    log = (await client.get(f"{API}/{bal.code}/tidal", headers=bal.h("manager"))).json()
    assert [c["action"] for c in log["changes"]] == ["close", "open"]
    assert "at or below the low marks for 10 min" in log["changes"][0]["reason"]
    assert log["changes"][0]["mode"] == "auto" and log["rules"]["mode"] == "auto"
    assert [p["action"] for t, p in await event_types(app, bal.code) if t == "tidal.changed"] == [
        "open",
        "close",
    ]


async def test_tidal_recommend_mode_tells_managers_and_moves_nothing(
    app,
    client: httpx.AsyncClient,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    recommend = tmp_path / "recommend.toml"
    recommend.write_text(
        HALL_FILE.read_text(encoding="utf-8").replace('mode = "auto"', 'mode = "recommend"'),
        encoding="utf-8",
    )
    hall = await seed_hall(app, client, recommend, other_code="balrec")
    for _ in range(3):
        await issue(client, hall, "business")
    recommended = [p for t, p in await event_types(app, "balrec") if t.startswith("tidal.")]
    assert [(p["action"], p["windows"]) for p in recommended] == [("open", [3])]
    assert all(
        t == "tidal.recommended"
        for t, _ in await event_types(app, "balrec")
        if t.startswith("tidal.")
    )
    windows = (await client.get(f"{API}/balrec/windows", headers=hall.h("display"))).json()
    assert "business" not in windows[2]["services"]
    log = (await client.get(f"{API}/balrec/tidal", headers=hall.h("display"))).json()
    assert log["changes"][0]["mode"] == "recommend"
    # Only managers run the rules by hand.
    refused = await client.post(f"{API}/balrec/tidal/evaluate", headers=hall.h("staff"))
    assert refused.status_code == 403


async def test_hall_file_roles_are_stored_and_reapplying_changes_nothing(
    app, client: httpx.AsyncClient, bal: Hall
) -> None:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        hall = await get_hall(session=session, code=bal.code)
        rows = await session.execute(
            select(Window.number, WindowService.role, WindowService.weight)
            .join(Window, Window.id == WindowService.window_id)
            .where(Window.hall_id == hall.id)
            .order_by(Window.number, WindowService.role)
        )
        assert rows.all() == [
            (1, "primary", 1.0),
            (1, "secondary", 0.5),
            (2, "primary", 1.0),
            (3, "primary", 1.0),
        ]
        report = await apply_hall_file(
            session=session, spec=parse_hall_file(HALL_FILE.read_text(encoding="utf-8"))
        )
        assert not report.changed, report.changes


async def test_old_window_links_default_to_primary(
    app, client: httpx.AsyncClient, bal: Hall
) -> None:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        hall = await get_hall(session=session, code=bal.code)
        window3 = (
            await session.execute(
                select(Window.id).where(Window.hall_id == hall.id, Window.number == 3)
            )
        ).scalar_one()
        estate = (
            await session.execute(
                text("SELECT id FROM services WHERE hall_id = :h AND code = 'estate'"),
                {"h": hall.id},
            )
        ).scalar_one()
        # A row written the way the foundation wrote them, without a role.
        await session.execute(
            text(
                "INSERT INTO window_services (window_id, service_id, weight) VALUES (:w, :s, 1.0)"
            ),
            {"w": window3, "s": estate},
        )
        await session.commit()
        role = (
            await session.execute(
                select(WindowService.role).where(
                    WindowService.window_id == window3, WindowService.service_id == estate
                )
            )
        ).scalar_one()
    assert role == "primary"


def test_hall_file_refuses_inconsistent_roles_and_tidal_rules() -> None:
    base = HALL_FILE.read_text(encoding="utf-8")
    with pytest.raises(HallConfigInvalid, match="cannot be primary and secondary"):
        parse_hall_file(
            base.replace("secondary = { estate = 0.5 }", "secondary = { business = 0.5 }")
        )
    with pytest.raises(HallConfigInvalid, match="tidal window 9"):
        parse_hall_file(base.replace("windows = [3]", "windows = [9]"))
    with pytest.raises(HallConfigInvalid, match="unknown service 'tax'"):
        parse_hall_file(base.replace('service = "business"\nhigh', 'service = "tax"\nhigh'))
    with pytest.raises(HallConfigInvalid, match="low_waiting must be below high_waiting"):
        parse_hall_file(base.replace("low_waiting = 1", "low_waiting = 3"))
    with pytest.raises(HallConfigInvalid, match="policy must be one of"):
        parse_hall_file(base.replace('policy = "balanced"', 'policy = "lottery"'))
    spec = parse_hall_file(base)
    assert spec.windows[0].links() == {"business": (1.0, "primary"), "estate": (0.5, "secondary")}


async def test_estimates_reuse_a_recent_reading_of_the_hall_until_it_changes(
    app, client: httpx.AsyncClient, bal: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # No clock in this test: a reading stays fresh until something else changes.
    monkeypatch.setattr(balancing, "BOARD_REUSE_SECONDS", 3600.0)
    assert (await act(client, bal, 2, "open")).status_code == 200
    first = await issue(client, bal, "estate")
    assert first["estimated_wait_minutes"] == 0  # window 2 is idle
    # Behind the engine's back (no event): window 2 goes away. Only new tickets
    # came through the engine since the reading, so the estimate reuses it.
    async with app.state.sessionmaker() as session:
        await session.execute(update(Window).where(Window.number == 2).values(state="closed"))
        await session.commit()
    second = await issue(client, bal, "estate")
    assert second["waiting_ahead"] == 1
    assert second["estimated_wait_minutes"] is not None  # still the reading with window 2 open
    # A change through the engine (window 2 reopens and calls) ends the reuse:
    # the next estimate sees window 2 busy with the first ticket.
    assert (await act(client, bal, 2, "open")).status_code == 200
    called = await act(client, bal, 2, "call-next")
    assert called.json()["ticket"]["number"] == first["number"]
    third = await issue(client, bal, "estate")
    assert third["waiting_ahead"] == 1
    # One ticket ahead, the only window busy: its rest, then one more handle time.
    assert third["estimated_wait_minutes"] >= 15


async def test_a_service_watched_by_a_tidal_rule_is_evaluated_on_every_issue(
    app, client: httpx.AsyncClient, bal: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(balancing, "BOARD_REUSE_SECONDS", 3600.0)
    # business has a tidal rule (high mark 3 waiting): the third ticket opens window 3
    # even though the hall was read a moment before.
    for _ in range(3):
        await issue(client, bal, "business")
    types = [t for t, _ in await event_types(app, bal.code)]
    assert "tidal.changed" in types


async def test_call_next_looks_again_when_other_windows_took_every_head_it_saw(
    app, client: httpx.AsyncClient, bal: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from services.engine.tickets import repository as tickets_repo

    assert (await act(client, bal, 2, "open")).status_code == 200
    first = await issue(client, bal, "estate")
    second = await issue(client, bal, "estate")
    # Window 2 first sees only a head that another window took in the meantime (as when
    # many windows call at once; here: the first ticket, already called elsewhere).
    async with app.state.sessionmaker() as other:
        await other.execute(update(Ticket).where(Ticket.id == first["id"]).values(status="called"))
        await other.commit()
    real_heads = tickets_repo.queue_heads
    reads = 0

    async def heads_taken_meanwhile(session, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal reads
        reads += 1
        rows = await real_heads(session, **kwargs)
        if reads == 1:
            seen = rows[0]
            stale = SimpleNamespace(
                id=first["id"],
                service_id=seen.service_id,
                priority=seen.priority,
                queued_at=seen.queued_at - timedelta(seconds=1),
                target_window_id=None,
                slot_starts_at=None,
                slot_ends_at=None,
            )
            return [stale]
        return rows

    monkeypatch.setattr(tickets_repo, "queue_heads", heads_taken_meanwhile)
    called = await act(client, bal, 2, "call-next")
    # It must not answer "nobody waits": it looks again and calls the next ticket.
    assert called.status_code == 200, called.text
    assert called.json()["ticket"]["number"] == second["number"]
    assert reads == 2


async def test_issuing_commits_once_with_the_tidal_change_it_causes(
    app, client: httpx.AsyncClient, bal: Hall
) -> None:  # type: ignore[no-untyped-def]
    """One commit per action: the ticket, its events and the tidal window it opens."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    for _ in range(2):
        await issue(client, bal, "business")
    # Commits that wrote something (on SQLite a request also ends its reads with an
    # empty commit before it writes: deps.end_read).
    writing: set[int] = set()
    commits: list[int] = []

    def wrote(state) -> None:  # type: ignore[no-untyped-def]
        if state.is_insert or state.is_update or state.is_delete:
            writing.add(id(state.session))

    def flushed(session: Session, _context: object) -> None:
        writing.add(id(session))

    def committed(session: Session) -> None:
        if id(session) in writing:
            commits.append(id(session))
            writing.discard(id(session))

    listeners = [("do_orm_execute", wrote), ("after_flush", flushed), ("after_commit", committed)]
    for name, fn in listeners:
        event.listen(Session, name, fn)
    try:
        third = await issue(client, bal, "business")  # high mark 3: opens window 3
    finally:
        for name, fn in listeners:
            event.remove(Session, name, fn)
    assert len(commits) == 1
    async with app.state.sessionmaker() as session:
        rows = (
            await session.execute(
                select(HallEvent.type, HallEvent.created_at, HallEvent.payload).order_by(
                    HallEvent.seq
                )
            )
        ).all()
    issued_at = {c for t, c, p in rows if t == "ticket.issued" and p["ticket_id"] == third["id"]}
    changed_at = {c for t, c, _ in rows if t == "tidal.changed"}
    # Written by the same commit: the outbox stamps a commit's events with one moment.
    assert len(issued_at) == 1 and changed_at == issued_at
    # The answer came after that commit, with its estimate (read, not written).
    assert third["waiting_ahead"] == 2 and third["wait_text"].startswith("前方还有 2 人")


async def test_the_policy_gets_recent_handle_times_and_the_windows_sharing_each_service(
    app, client: httpx.AsyncClient, bal: Hall
) -> None:  # type: ignore[no-untyped-def]
    """The look-ahead of helping needs two facts the engine reads for call-next: each
    service's recent mean handle time, and how many open windows take it as their own."""

    async def view():  # type: ignore[no-untyped-def]
        async with app.state.sessionmaker() as session:
            hall = await get_hall(session=session, code=bal.code)
            window = (
                await session.execute(
                    select(Window).where(Window.hall_id == hall.id, Window.number == 1)
                )
            ).scalar_one()
            return await balancing.window_view(session, hall, window.id)

    await act(client, bal, 1, "open")
    first = await view()
    business, estate = sorted(first.links, key=lambda s: first.links[s].role.value)
    assert first.links[business].role.value == "primary"
    # The configured averages (10 minutes) before any ticket was handled.
    assert first.handle_seconds == {business: 600.0, estate: 600.0}
    # Only window 1 is open: business has one window of its own, estate none.
    assert first.own_windows == {business: 1}
    await act(client, bal, 2, "open")
    assert (await view()).own_windows == {business: 1, estate: 1}
    # A business ticket handled in about a second pulls its moving average down.
    await issue(client, bal, "business")
    await act(client, bal, 1, "call-next")
    await act(client, bal, 1, "finish")
    handled = await view()
    assert handled.handle_seconds[business] < 600.0 * 0.85
    assert handled.handle_seconds[estate] == 600.0
