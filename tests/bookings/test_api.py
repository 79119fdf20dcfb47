"""The partner booking API and the hall's booking endpoints, on both databases."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

import httpx
from sqlalchemy import select, text

from services.engine.bookings import service as bookings_service
from services.engine.bookings.models import Booking
from services.engine.tickets.models import Ticket
from tests.helpers.api import assert_problem
from tests.helpers.bookings import (
    ID_1,
    PHONE,
    TZ,
    PartnerClient,
    add_partner,
    book,
    next_slot,
)
from tests.helpers.halls import TEST_HALL, Hall, seed_hall

ID_2 = "110105194912310037"


async def test_services_and_slots(partner: PartnerClient) -> None:
    r = await partner.get("/services")
    assert r.status_code == 200, r.text
    services = {s["service"]: s for s in r.json()["services"]}
    assert set(services) == {"business", "estate"}  # consult takes no bookings
    assert services["estate"]["slot_minutes"] == 60 and services["estate"]["capacity_per_slot"] == 2
    assert len(services["business"]["bookable_dates"]) == 8  # today and 7 days ahead
    day = date.fromisoformat(services["business"]["bookable_dates"][-1])
    r = await partner.get(f"/services/business/slots?date={day.isoformat()}")
    slots = r.json()["slots"]
    assert len(slots) == 48 and all(
        s["capacity"] == 3 and s["left"] == 3 and s["bookable"] for s in slots
    )
    r = await partner.get(f"/services/business/slots?date={(day + timedelta(days=1)).isoformat()}")
    assert not any(s["bookable"] for s in r.json()["slots"])  # not released yet
    assert_problem(
        await partner.get(f"/services/consult/slots?date={day.isoformat()}"),
        409,
        "service_not_bookable",
    )


async def test_book_look_up_cancel_and_pii_never_in_clear(partner: PartnerClient, app) -> None:  # type: ignore[no-untyped-def]
    booking = await book(partner)
    assert (
        booking["status"] == "booked"
        and booking["id_tail"] == "002X"
        and booking["phone_tail"] == "5678"
    )
    assert booking["qr_payload"] == f"JHB:{partner.hall}:{booking['code']}"
    qr = await partner.get(f"/bookings/{booking['code']}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.text.startswith("<svg") and qr.text == bookings_service.qr_svg(booking["qr_payload"])
    assert_problem(await partner.get("/bookings/NOSUCHCD/qr.svg"), 404, "not_found")
    again = await partner.get(f"/bookings/{booking['code']}")
    assert again.status_code == 200 and again.json()["id"] == booking["id"]
    found = await partner.post("/bookings/lookup", {"id_number": ID_1.lower()})
    assert [b["code"] for b in found.json()["bookings"]] == [booking["code"]]
    assert (await partner.post("/bookings/lookup", {"id_number": ID_2})).json()["bookings"] == []

    # Nothing stored anywhere holds the ID or phone number in clear.
    async with app.state.sessionmaker() as session:
        for table in ("bookings", "hall_events", "ticket_events", "tickets"):
            rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()
            dump = " ".join(str(v) for row in rows for v in row)
            assert ID_1 not in dump and ID_1.lower() not in dump and PHONE not in dump, table
        row = (await session.execute(select(Booking))).scalar_one()
        assert len(row.person_hash) == 64 and row.id_tail == "002X" and row.phone_tail == "5678"
        assert row.phone_hash and PHONE not in row.phone_hash

    # Cancelling (the slot is less than 2 hours away) is refused; staff may.
    cancel = await partner.post(f"/bookings/{booking['code']}/cancel")
    body = assert_problem(cancel, 409, "cancel_too_late")
    assert "cutoff" in body


async def test_one_booking_per_person_per_day_and_slot_capacity(partner: PartnerClient) -> None:
    start = await next_slot(partner, "estate")
    await book(partner, ID_1, "estate", start)
    refused = await partner.post(
        "/bookings", {"service": "business", "start": await next_slot(partner), "id_number": ID_1}
    )
    assert_problem(refused, 409, "already_booked_that_day")
    await book(partner, ID_2, "estate", start)
    full = await partner.post(
        "/bookings", {"service": "estate", "start": start, "id_number": "440301199001011234"}
    )
    assert_problem(full, 409, "slot_full")
    slots = (await partner.get(f"/services/estate/slots?date={start[:10]}")).json()["slots"]
    taken = next(s for s in slots if s["start"] == start)
    assert (taken["booked"], taken["left"], taken["bookable"]) == (2, 0, False)
    not_a_slot = await partner.post(
        "/bookings",
        {"service": "estate", "start": start[:11] + "00:10:00+08:00", "id_number": ID_2},
    )
    assert_problem(not_a_slot, 409, "booking_closed")


async def test_signature_refusals(partner: PartnerClient) -> None:
    good = await partner.get("/services")
    assert good.status_code == 200
    assert_problem(
        await partner.http.get(f"/api/v1/partner/halls/{partner.hall}/services"),
        401,
        "signature_missing",
    )
    assert_problem(
        await partner.get("/services", **{"X-Jiaohao-Signature": "0" * 64}),
        401,
        "signature_invalid",
    )
    stale = await partner.get("/services", timestamp=time.time() - 301)
    assert_problem(stale, 401, "signature_stale")
    assert_problem(
        await partner.get("/services", timestamp=time.time() + 400), 401, "signature_stale"
    )
    # The same nonce twice: the second is a replay.
    assert (await partner.get("/services", nonce="same-nonce-1")).status_code == 200
    assert_problem(await partner.get("/services", nonce="same-nonce-1"), 401, "nonce_replayed")
    # A body changed after signing does not verify.
    path = f"/api/v1/partner/halls/{partner.hall}/bookings/lookup"
    headers = partner.headers("POST", path, b'{"id_number":"110105194912310037"}')
    tampered = await partner.http.post(
        path,
        content=b'{"id_number":"11010519491231002X"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert_problem(tampered, 401, "signature_invalid")
    # A key of another secret (wrong engine) does not verify either.
    impostor = PartnerClient(
        partner.http, partner.key_id, "jhs_not-the-secret", partner.hall, partner.partner_id
    )
    assert_problem(await impostor.get("/services"), 401, "signature_invalid")


async def test_partner_is_bound_to_its_hall_and_rate_limited(
    app, client: httpx.AsyncClient, partner: PartnerClient
) -> None:  # type: ignore[no-untyped-def]
    from services.engine.partners.ratelimit import RateLimiter

    # Frozen time: no token comes back while the test runs, however slow the machine.
    app.state.partner_rate_limiter = RateLimiter(clock=lambda: 1000.0)
    other = await seed_hall(app, client, TEST_HALL)
    elsewhere = PartnerClient(
        client, partner.key_id, partner.secret, other.code, partner.partner_id
    )
    assert_problem(await elsewhere.get("/services"), 403, "forbidden")

    pid, key_id, secret = await add_partner(app, partner.hall, name="slow", rate_per_minute=3)
    slow = PartnerClient(client, key_id, secret, partner.hall, pid)
    for _ in range(3):
        assert (await slow.get("/services")).status_code == 200
    limited = assert_problem(await slow.get("/services"), 429, "rate_limited")
    assert limited["retry_after_seconds"] > 0
    # Per citizen: the same ID number through any partner, 10 requests a minute.
    for _ in range(10):
        assert (await partner.post("/bookings/lookup", {"id_number": ID_2})).status_code == 200
    assert_problem(await partner.post("/bookings/lookup", {"id_number": ID_2}), 429, "rate_limited")
    assert (await partner.post("/bookings/lookup", {"id_number": ID_1})).status_code == 200


async def test_check_in_by_partner_gives_an_appointment_ticket_and_live_position(
    partner: PartnerClient, client: httpx.AsyncClient, bhall: Hall
) -> None:
    walk_in = await client.post(
        f"/api/v1/halls/{bhall.code}/tickets",
        json={"service": "business"},
        headers=bhall.h("kiosk"),
    )
    assert walk_in.status_code == 201
    booking = await book(partner)
    r = await partner.post(f"/bookings/{booking['code']}/check-in")
    assert r.status_code == 201, r.text
    ticket = r.json()["ticket"]
    assert (
        ticket["priority"] == "appointment"
        and ticket["source"] == "booking"
        and ticket["number"] == "A002"
    )
    assert ticket["phone_tail"] == "5678"
    assert (
        r.json()["booking"]["status"] == "checked_in"
        and r.json()["booking"]["ticket_number"] == "A002"
    )
    twice = await partner.post(f"/bookings/{booking['code']}/check-in")
    assert_problem(twice, 409, "booking_not_active")

    position = (await partner.get(f"/tickets/{ticket['id']}")).json()
    assert (
        position["status"] == "waiting"
        # Checked in before its slot behind A001 (a walk-in): it waits as a normal
        # ticket until its slot starts, so A001 is ahead (tests/bookings/test_ahead_partner).
        and position["waiting_ahead"] == 1
        and position["position"] == 2
    )
    own_url = f"/api/v1/halls/{bhall.code}/tickets/{ticket['id']}"
    own = (await client.get(own_url, headers=bhall.h("staff"))).json()
    assert position["message"] == "前方还有1人"
    # The same place and estimate as the ticket's own view.
    assert position["estimated_wait_minutes"] == own["estimated_wait_minutes"]
    assert own["waiting_ahead"] == 1
    # A partner sees only its own bookings' tickets.
    assert_problem(await partner.get(f"/tickets/{walk_in.json()['id']}"), 404, "not_found")

    assert (
        await client.post(f"/api/v1/halls/{bhall.code}/windows/1/open", headers=bhall.h("manager"))
    ).status_code == 200
    called = await client.post(
        f"/api/v1/halls/{bhall.code}/windows/1/call",
        json={"ticket_id": ticket["id"], "reason": "预约"},
        headers=bhall.h("manager"),
    )
    assert called.json()["ticket"]["number"] == "A002", called.text
    position = (await partner.get(f"/tickets/{ticket['id']}")).json()
    assert position["status"] == "called" and position["window"] == 1
    assert position["message"] == "请A002号到1号窗口办理" and position["waiting_ahead"] is None


async def test_kiosk_check_in_by_qr_and_by_id_card(
    partner: PartnerClient, client: httpx.AsyncClient, bhall: Hall, app
) -> None:  # type: ignore[no-untyped-def]
    first = await book(partner, ID_1)
    second = await book(partner, ID_2)
    url = f"/api/v1/halls/{bhall.code}/bookings/check-in"
    by_qr = await client.post(url, json={"code": first["qr_payload"]}, headers=bhall.h("kiosk"))
    assert by_qr.status_code == 201, by_qr.text
    assert by_qr.json()["booking"]["code"] == first["code"]
    # The status page at the address the kiosk reached the engine on (the client's).
    assert by_qr.json()["ticket"]["status_url"].startswith(f"http://test/t/{bhall.code}/")
    by_id = await client.post(url, json={"id_number": ID_2}, headers=bhall.h("kiosk"))
    assert by_id.status_code == 201, by_id.text
    assert by_id.json()["booking"]["code"] == second["code"]
    assert_problem(
        await client.post(url, json={"id_number": "440301199001011234"}, headers=bhall.h("kiosk")),
        404,
        "not_found",
    )
    assert_problem(
        await client.post(url, json={"code": "JHB:otherhall:ABC"}, headers=bhall.h("kiosk")),
        422,
        "validation_error",
    )
    assert_problem(
        await client.post(url, json={}, headers=bhall.h("kiosk")), 422, "validation_error"
    )
    assert_problem(
        await client.post(url, json={"code": first["code"]}, headers=bhall.h("display")),
        403,
        "forbidden",
    )
    async with app.state.sessionmaker() as session:
        tickets = (await session.execute(select(Ticket).order_by(Ticket.id))).scalars().all()
        bookings = (await session.execute(select(Booking).order_by(Booking.id))).scalars().all()
    assert [t.priority for t in tickets] == ["appointment", "appointment"]
    assert [b.ticket_id for b in bookings] == [t.id for t in tickets]
    assert tickets[0].person_hash == bookings[0].person_hash


async def test_staff_see_and_manage_the_day(
    partner: PartnerClient, client: httpx.AsyncClient, bhall: Hall
) -> None:
    booking = await book(partner)
    day = datetime.fromisoformat(booking["starts_at"]).astimezone(TZ).date().isoformat()
    base = f"/api/v1/halls/{bhall.code}/bookings"
    listed = await client.get(f"{base}?date={day}", headers=bhall.h("staff"))
    assert listed.status_code == 200, listed.text
    assert listed.json()["counts"] == {"booked": 1}
    assert [b["code"] for b in listed.json()["bookings"]] == [booking["code"]]
    slots = await client.get(f"{base}/slots?date={day}&service=business", headers=bhall.h("staff"))
    assert any(s["booked"] == 1 for s in slots.json()["slots"])
    assert_problem(
        await client.get(f"{base}?date={day}", headers=bhall.h("kiosk")), 403, "forbidden"
    )
    assert_problem(await client.get(f"{base}?date={day}"), 401, "unauthorized")
    # Staff may cancel past the citizens' cutoff; the place comes back.
    cancelled = await client.post(
        f"{base}/{booking['id']}/cancel",
        json={"reason": "citizen phoned"},
        headers=bhall.h("staff"),
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    slots = await client.get(f"{base}/slots?date={day}&service=business", headers=bhall.h("staff"))
    assert all(s["booked"] == 0 for s in slots.json()["slots"])
    assert_problem(
        await client.post(f"{base}/{booking['id']}/cancel", headers=bhall.h("staff")),
        409,
        "booking_not_active",
    )
    # The day is free again for that person.
    await book(partner)
    assert_problem(
        await client.post(f"{base}/{booking['id']}/excuse", headers=bhall.h("staff")),
        403,
        "forbidden",
    )
    assert_problem(
        await client.post(f"{base}/{booking['id']}/excuse", headers=bhall.h("manager")),
        409,
        "booking_not_active",
    )
