"""The 好差评 loop through the API on both databases: ratings by channel, the signed
QR rating, a bad review worked to 已办结 with the role matrix, the appeal, overdue
events, the callback phone sealed in its row and erased after retention, the
indicators, the disclosure page and the exports against golden files."""

from __future__ import annotations

import asyncio
import io
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, text, update

from services.engine.core.db import utcnow
from services.engine.events.models import HallEvent
from services.engine.halls.service import get_hall
from services.engine.partners.webhooks import WebhookWorker
from services.engine.public.signing import ticket_signature
from services.engine.reviews import service as reviews
from services.engine.reviews import staff
from services.engine.reviews.models import ReviewCase
from services.engine.tickets.models import Ticket
from tests.helpers.api import API, act, assert_problem, issue
from tests.helpers.bookings import PartnerClient, add_partner, book, webhook_receiver
from tests.helpers.cli import Cli
from tests.helpers.halls import Hall, seed_hall

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "reviews"
SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONE = "13812345678"


async def finished(client: httpx.AsyncClient, hall: Hall, window: int = 1) -> int:
    ticket = await issue(client, hall)
    await act(client, hall, window, "open")
    for action in ("call-next", "start", "finish"):
        response = await act(client, hall, window, action)
        assert response.status_code == 200, response.text
    return int(ticket["id"])


def rate_url(app: Any, hall: Hall, ticket_id: int, via: str = "qr") -> str:
    s = ticket_signature(app.state.settings.secret_key, hall.code, ticket_id)
    return f"/t/{hall.code}/{ticket_id}/rate?s={s}&via={via}"


async def events(app: Any, kind: str) -> list[dict[str, Any]]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            select(HallEvent.payload).where(HallEvent.type == kind).order_by(HallEvent.seq)
        )
        return [dict(p) for (p,) in rows.all()]


async def cases(client: httpx.AsyncClient, hall: Hall, query: str = "") -> list[dict[str, Any]]:
    response = await client.get(
        f"{API}/{hall.code}/reviews/cases{query}", headers=hall.h("manager")
    )
    assert response.status_code == 200, response.text
    return list(response.json())


async def step(
    client: httpx.AsyncClient,
    hall: Hall,
    case_id: int,
    name: str,
    body: dict[str, Any],
    who: str = "manager",
) -> httpx.Response:
    return await client.post(
        f"{API}/{hall.code}/reviews/cases/{case_id}/steps/{name}", json=body, headers=hall.h(who)
    )


async def test_channels_and_the_signed_qr_rating(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    pad = await finished(client, hall)
    qr = await finished(client, hall)
    kiosk = await finished(client, hall)
    r = await client.post(
        f"{API}/{hall.code}/tickets/{pad}/evaluation", json={"level": 5}, headers=hall.h("gateway")
    )
    assert r.status_code == 201 and r.json()["channel"] == "gateway"
    r = await client.post(
        f"{API}/{hall.code}/tickets/{kiosk}/evaluation",
        json={"level": 4, "items": {"attitude": 5}},
        headers=hall.h("kiosk"),
    )
    assert r.status_code == 201 and r.json()["channel"] == "kiosk"
    page = await client.get(rate_url(app, hall, qr))
    assert page.status_code == 200 and "整体满意度" in page.text and "服务态度" in page.text
    # The form post, as a phone's browser sends it.
    posted = await client.post(rate_url(app, hall, qr), data={"level": "3", "efficiency": "4"})
    assert posted.status_code == 201 and "感谢您的评价" in posted.text
    again = await client.post(rate_url(app, hall, qr), json={"level": 5})
    assert_problem(again, 409, "already_rated")
    got = await client.get(f"{API}/{hall.code}/tickets/{qr}/evaluation", headers=hall.h("manager"))
    assert got.json()["channel"] == "qr" and got.json()["level"] == 3
    # Staff and managers never rate (不得代评).
    other = await finished(client, hall)
    for who in ("staff", "manager"):
        refused = await client.post(
            f"{API}/{hall.code}/tickets/{other}/evaluation", json={"level": 5}, headers=hall.h(who)
        )
        assert_problem(refused, 403, "forbidden")

    # Past the hall's rating days the link no longer rates.
    late = await finished(client, hall)
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(Ticket).where(Ticket.id == late).values(finished_at=utcnow() - timedelta(days=8))
        )
        await session.commit()
    closed = await client.post(rate_url(app, hall, late, "sms"), json={"level": 5})
    assert_problem(closed, 409, "rating_closed")

    waiting = await issue(client, hall)
    # Not before the ticket is finished.
    early = await client.post(rate_url(app, hall, waiting["id"]), json={"level": 5})
    assert_problem(early, 409, "invalid_ticket_state")
    # A bad signature shows nothing.
    forged = await client.post(
        f"/t/{hall.code}/{waiting['id']}/rate?s=AAAAAAAAAAAA", json={"level": 5}
    )
    assert_problem(forged, 404, "not_found")


async def test_a_bad_review_worked_to_closed(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    ticket_id = await finished(client, hall)
    rated = await client.post(
        rate_url(app, hall, ticket_id),
        json={
            "level": 1,
            "reasons": ["等候时间长"],
            "comment": "等了很久",
            "callback_phone": PHONE,
        },
    )
    assert rated.status_code == 201, rated.text
    [case] = await cases(client, hall)
    assert case["state"] == "pending_contact" and case["has_phone"] and "phone" not in case
    assert (await events(app, "review.case_opened"))[0]["case_id"] == case["id"]

    # The phone is sealed in the row: neither the number nor its digits appear.
    async with app.state.sessionmaker() as session:
        raw = (await session.execute(text("SELECT callback_phone FROM review_cases"))).scalar_one()
    assert raw.startswith("v1.") and PHONE not in raw and PHONE[-4:] not in raw

    cid = case["id"]
    # Staff cannot work cases; nor see the phone.
    assert_problem(
        await step(
            client, hall, cid, "contact", {"channel": "phone", "result": "reached"}, who="staff"
        ),
        403,
        "forbidden",
    )
    assert_problem(
        await client.get(f"{API}/{hall.code}/reviews/cases/{cid}/phone", headers=hall.h("staff")),
        403,
        "forbidden",
    )
    # Out of order is refused with a stable code.
    assert_problem(
        await step(client, hall, cid, "reply", {"reply": "x"}), 409, "case_step_out_of_order"
    )
    phone = await client.get(
        f"{API}/{hall.code}/reviews/cases/{cid}/phone", headers=hall.h("manager")
    )
    assert phone.json() == {"phone": PHONE}
    assert_problem(
        await step(client, hall, cid, "contact", {"channel": "phone"}), 422, "validation_error"
    )
    for name, body in (
        ("contact", {"channel": "phone", "result": "reached", "notes": "已致歉"}),
        ("verify", {"valid": True}),
        ("plan", {"measure": "增开午间窗口", "responsible": "综合科"}),
        ("rectified", {}),
        ("reply", {"reply": "已增开午间窗口，感谢监督。", "publish_comment": True}),
        ("satisfaction", {"satisfaction": "satisfied"}),
        ("close", {}),
    ):
        response = await step(client, hall, cid, name, body)
        assert response.status_code == 200, (name, response.text)
    done = response.json()
    assert done["state"] == "closed" and done["state_text"] == "已办结"
    assert [s["step"] for s in done["steps"]] == [
        "opened",
        "phone_read",
        "contact",
        "verify",
        "plan",
        "rectified",
        "reply",
        "satisfaction",
        "close",
    ]
    assert all(s["actor"] for s in done["steps"])
    assert len(await events(app, "review.case_changed")) == 7
    # A closed case's phone is no longer read, and is erased after retention.
    assert_problem(
        await client.get(f"{API}/{hall.code}/reviews/cases/{cid}/phone", headers=hall.h("manager")),
        403,
        "forbidden",
    )
    swept = await client.post(f"{API}/{hall.code}/reviews/sweep", headers=hall.h("manager"))
    assert swept.json()["phones_erased"] == 0
    async with app.state.sessionmaker() as session:
        await session.execute(update(ReviewCase).values(closed_at=utcnow() - timedelta(days=31)))
        await session.commit()
    swept = await client.post(f"{API}/{hall.code}/reviews/sweep", headers=hall.h("manager"))
    assert swept.json()["phones_erased"] == 1
    async with app.state.sessionmaker() as session:
        row = (await session.execute(select(ReviewCase))).scalar_one()
        assert row.callback_phone is None and row.phone_erased_at is not None

    # The disclosure page: the reply and the approved comment, never the phone.
    page = await client.get(f"/p/{hall.code}/reviews")
    assert page.status_code == 200
    assert "已增开午间窗口" in page.text and "等了很久" in page.text and PHONE not in page.text
    assert "回访整改满意率" in page.text


async def test_appeal_and_the_role_matrix(
    app: Any, client: httpx.AsyncClient, hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    await act(client, hall, 1, "sign-in", who="staff")
    ticket_id = await finished(client, hall)
    r = await client.post(
        f"{API}/{hall.code}/tickets/{ticket_id}/evaluation",
        json={"level": 2, "comment": "态度差"},
        headers=hall.h("kiosk"),
    )
    assert r.status_code == 201
    [case] = await cases(client, hall)
    # The clerk's page shows a rating only once the citizen has gone (30 minutes).
    monkeypatch.setattr(staff, "utcnow", lambda: utcnow() + timedelta(minutes=31))
    mine = await client.get(f"{API}/{hall.code}/reviews/mine", headers=hall.h("staff"))
    assert [c["id"] for c in mine.json()] == [case["id"]]
    appeal = await client.post(
        f"{API}/{hall.code}/reviews/cases/{case['id']}/appeal",
        json={"reason": "群众误操作，现场已确认满意"},
        headers=hall.h("staff"),
    )
    assert appeal.status_code == 200 and appeal.json()["state"] == "appealing"
    assert_problem(
        await client.post(
            f"{API}/{hall.code}/reviews/cases/{case['id']}/appeal",
            json={"reason": "again"},
            headers=hall.h("staff"),
        ),
        409,
        "appeal_not_allowed",
    )
    # Staff cannot decide; a manager upholds it: kept, excluded from the rates.
    assert_problem(
        await step(client, hall, case["id"], "decide", {"upheld": True}, who="staff"),
        403,
        "forbidden",
    )
    decided = await step(client, hall, case["id"], "decide", {"upheld": True})
    assert decided.json()["state"] == "closed" and decided.json()["appeal"] == "upheld"
    today = datetime.now(SHANGHAI).date()
    got = await client.get(
        f"{API}/{hall.code}/reviews/indicators?from={today}&to={today}", headers=hall.h("manager")
    )
    body = got.json()
    assert body["excluded"] == 1 and body["rates"]["good"]["denominator"] == 0
    assert body["rates"]["participation"] == {
        "name": "参评率",
        "numerator": 1,
        "denominator": 1,
        "percent": "100.00",
    }

    # A manager of another hall sees nothing of this one.
    other = await seed_hall(app, client, other_code="otherhall")
    assert_problem(
        await client.get(f"{API}/{hall.code}/reviews/cases", headers=other.h("manager")),
        403,
        "forbidden",
    )
    assert_problem(
        await client.get(
            f"{API}/{other.code}/reviews/cases/{case['id']}", headers=other.h("manager")
        ),
        404,
        "not_found",
    )


async def test_overdue_cases_raise_one_event(
    app: Any, client: httpx.AsyncClient, hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket_id = await finished(client, hall)
    await client.post(
        f"{API}/{hall.code}/tickets/{ticket_id}/evaluation",
        json={"level": 1, "reasons": ["办理效率低"]},
        headers=hall.h("kiosk"),
    )
    assert (
        await client.post(f"{API}/{hall.code}/reviews/sweep", headers=hall.h("manager"))
    ).json()["overdue"] == []
    async with app.state.sessionmaker() as session:
        row = (await session.execute(select(ReviewCase))).scalar_one()
        row.contact_due = row.contact_due - timedelta(days=30)
        row.rectify_due = row.rectify_due - timedelta(days=30)
        await session.commit()
        cid = row.id
    with webhook_receiver(monkeypatch) as receiver:
        put = await client.put(
            f"{API}/{hall.code}/reviews/settings",
            json={"alert_webhook": receiver.url},
            headers=hall.h("manager"),
        )
        assert put.status_code == 200, put.text
        first = await client.post(f"{API}/{hall.code}/reviews/sweep", headers=hall.h("manager"))
        assert first.json()["overdue"] == [cid] and first.json()["notified"] == 1
        again = await client.post(f"{API}/{hall.code}/reviews/sweep", headers=hall.h("manager"))
        assert again.json()["overdue"] == [] and again.json()["notified"] == 0
        [alert] = receiver.messages("review.case_overdue")
    assert alert["case_id"] == cid and alert["hall"] == hall.code and "phone" not in alert
    assert [e["case_id"] for e in await events(app, "review.case_overdue")] == [cid]
    assert [c["id"] for c in await cases(client, hall, "?overdue=true")] == [cid]
    assert await cases(client, hall, "?overdue=false") == []


async def test_the_day_before_national_day(
    app: Any, client: httpx.AsyncClient, hall: Hall, database_url: str, tmp_path: Path
) -> None:
    """A bad review left on a phone at 17:05 on 30 September 2026 is due on 20 October
    (1-7 October off, Saturday 10 October worked); the month's export matches the
    golden files for both presets."""
    good = await finished(client, hall)
    bad = await finished(client, hall)
    await client.put(
        f"{API}/{hall.code}/reviews/settings",
        json={"region_code": "330106"},
        headers=hall.h("manager"),
    )
    async with app.state.sessionmaker() as session:
        found = await get_hall(session=session, code=hall.code)
        for tid, day in ((good, "2026-09-30"), (bad, "2026-09-30")):
            await session.execute(
                update(Ticket)
                .where(Ticket.id == tid)
                .values(business_date=datetime.fromisoformat(day).date())
            )
        await session.commit()
        at = datetime(2026, 9, 30, 17, 5, tzinfo=SHANGHAI)
        await reviews.rate(
            session=session,
            hall=found,
            ticket_id=good,
            level=5,
            reasons=[],
            comment=None,
            channel="gateway",
            pii_key="k" * 32,
            now=at - timedelta(minutes=30),
        )
        _, case = await reviews.rate(
            session=session,
            hall=found,
            ticket_id=bad,
            level=1,
            reasons=["等候时间长"],
            comment="等了一个小时",
            channel="qr",
            pii_key="k" * 32,
            callback_phone=PHONE,
            by_link=True,
            now=at,
        )
        assert case is not None
        assert str(case.contact_due) == "2026-10-08" and str(case.rectify_due) == "2026-10-20"
    for preset in ("national", "provincial_reverse"):
        got = await client.get(
            f"{API}/{hall.code}/reviews/export?from=2026-09-01&to=2026-09-30&format=csv&preset={preset}",
            headers=hall.h("manager"),
        )
        assert got.status_code == 200
        assert got.content == (GOLDEN / f"ratings-{preset}.csv").read_bytes(), got.content.decode()
    # The same through `jiaohao reviews export`, written to a file.
    out = tmp_path / "national.csv"
    cli = Cli(database_url, tmp_path, None)
    done = await asyncio.to_thread(
        cli, "reviews", "export", "--hall", hall.code, "--from", "2026-09-01",
        "--to", "2026-09-30", "--preset", "national", "-o", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == (GOLDEN / "ratings-national.csv").read_bytes()
    xlsx = await client.get(
        f"{API}/{hall.code}/reviews/export?from=2026-09-01&to=2026-09-30&format=xlsx",
        headers=hall.h("manager"),
    )
    assert xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as book:
        workbook = book.read("xl/workbook.xml").decode()
        strings = book.read("xl/sharedStrings.xml").decode()
    assert "评价记录" in workbook and "差评工单" in workbook
    for cell in ("testhall-20260930-A002", "20260930T170500", "等候时间长；等了一个小时", "330106"):
        assert f">{cell}<" in strings, cell
    assert PHONE not in strings
    month = await client.get(
        f"{API}/{hall.code}/reviews/indicators?from=2026-09-01&to=2026-09-30",
        headers=hall.h("manager"),
    )
    rates = month.json()["rates"]
    assert month.json()["finished"] == 2 and rates["good"]["percent"] == "50.00"
    assert rates["participation"]["percent"] == "100.00" and rates["reply"]["percent"] == "0.00"


async def test_unrated_tickets_get_a_system_default_rating_never_active(
    app: Any, client: httpx.AsyncClient, hall: Hall
) -> None:
    old = await finished(client, hall)
    fresh = await finished(client, hall)
    put = await client.put(
        f"{API}/{hall.code}/reviews/settings",
        json={"unrated": "default", "default_level": 5, "rating_days": 7},
        headers=hall.h("manager"),
    )
    assert put.status_code == 200, put.text
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(Ticket).where(Ticket.id == old).values(finished_at=utcnow() - timedelta(days=8))
        )
        await session.commit()
    swept = await client.post(f"{API}/{hall.code}/reviews/sweep", headers=hall.h("manager"))
    assert swept.json()["defaults"] == 1
    again = await client.post(f"{API}/{hall.code}/reviews/sweep", headers=hall.h("manager"))
    assert again.json()["defaults"] == 0
    got = await client.get(f"{API}/{hall.code}/tickets/{old}/evaluation", headers=hall.h("manager"))
    assert got.json()["channel"] == "system_default" and got.json()["level"] == 5
    none = await client.get(
        f"{API}/{hall.code}/tickets/{fresh}/evaluation", headers=hall.h("manager")
    )
    assert_problem(none, 404, "not_found")
    today = datetime.now(SHANGHAI).date()
    body = (
        await client.get(
            f"{API}/{hall.code}/reviews/indicators?from={today}&to={today}",
            headers=hall.h("manager"),
        )
    ).json()
    assert (body["finished"], body["active"], body["defaults"]) == (2, 0, 1)
    assert body["rates"]["unrated"]["percent"] == "100.00"
    assert body["rates"]["good"]["percent"] == "100.00"
    assert body["rates"]["active_good"]["percent"] is None
    # A period outside the century is refused, not a 500.
    far = await client.get(
        f"{API}/{hall.code}/reviews/indicators?from=9999-12-30&to=9999-12-31",
        headers=hall.h("manager"),
    )
    assert_problem(far, 422, "validation_error")


async def test_the_booking_partner_rates_its_own_booking_once(
    client: httpx.AsyncClient, bhall: Hall, partner: PartnerClient
) -> None:
    booking = await book(partner)
    checked_in = await partner.post(f"/bookings/{booking['code']}/check-in")
    assert checked_in.status_code == 201, checked_in.text
    ticket_id = checked_in.json()["ticket"]["id"]
    early = await partner.post(f"/tickets/{ticket_id}/evaluation", {"level": 5})
    assert_problem(early, 409, "invalid_ticket_state")
    await act(client, bhall, 1, "open")
    for action in ("call-next", "start", "finish"):
        assert (await act(client, bhall, 1, action)).status_code == 200
    rated = await partner.post(
        f"/tickets/{ticket_id}/evaluation", {"level": 2, "reasons": ["告知不清楚"]}
    )
    assert rated.status_code == 201, rated.text
    assert rated.json() == {
        "ticket_id": ticket_id,
        "level": 2,
        "channel": "partner",
        "case_opened": True,
    }
    again = await partner.post(f"/tickets/{ticket_id}/evaluation", {"level": 5})
    assert_problem(again, 409, "already_rated")
    # A walk-in ticket is not the partner's to rate.
    walk_in = await issue(client, bhall)
    assert_problem(
        await partner.post(f"/tickets/{walk_in['id']}/evaluation", {"level": 5}), 404, "not_found"
    )


async def test_the_partner_gets_the_signed_rating_link_when_its_ticket_is_finished(
    app: Any, client: httpx.AsyncClient, bhall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_receiver(monkeypatch) as receiver:
        # The app's own worker would send on its own clock: this test drives one pass.
        await app.state.webhook_worker.stop()
        pid, key_id, secret = await add_partner(
            app, bhall.code, name="hooked", webhook_url=receiver.url
        )
        partner = PartnerClient(client, key_id, secret, bhall.code, pid)
        worker = WebhookWorker(app.state.sessionmaker, app.state.settings)
        booking = await book(partner)
        checked_in = await partner.post(f"/bookings/{booking['code']}/check-in")
        ticket_id = checked_in.json()["ticket"]["id"]
        await act(client, bhall, 1, "open")
        for action in ("call-next", "start", "finish"):
            assert (await act(client, bhall, 1, action)).status_code == 200
        await worker.run_once(now=utcnow())
        [finished_note] = receiver.messages("ticket.finished")
    data = finished_note["data"]
    assert data["ticket_id"] == ticket_id and data["booking_code"] == booking["code"]
    link = data["rating_url"]
    assert link.startswith(f"/t/{bhall.code}/{ticket_id}/rate?s=") and link.endswith("&via=sms")
    rated = await client.post(link, json={"level": 4})
    assert rated.status_code == 201, rated.text
    got = await client.get(
        f"{API}/{bhall.code}/tickets/{ticket_id}/evaluation", headers=bhall.h("manager")
    )
    assert got.json()["channel"] == "sms"
