"""Inputs that once answered 500 (issue 15): each is refused with a 4xx problem+json and a
stable code, on both databases, before it reaches the database."""

from __future__ import annotations

import time
from typing import Any

import jwt

from tests.helpers.api import API, act, assert_problem
from tests.helpers.bookings import ID_1, PartnerClient

INT32_OVER = 2**31  # one past PostgreSQL's integer
INT64_OVER = 2**63  # one past PostgreSQL's bigint (and SQLite's integer)
HUGE_NEGATIVE = -(2**63) - 1
WINDOW_ACTIONS: dict[str, dict[str, Any] | None] = {
    "call-next": None,
    "call": {"ticket_id": 1, "reason": "补办"},
    "recall": None,
    "start": None,
    "finish": None,
    "no-show": None,
    "transfer": {"service": "business"},
    "pause": {"reason": "午休"},
    "resume": None,
    "open": None,
    "close": None,
}
DAYS_OUT_OF_RANGE = ("9999-12-31", "0001-01-01")


def _parameter(app: Any, path: str, method: str, name: str) -> dict[str, Any]:
    operation = app.openapi()["paths"][path][method]
    found: dict[str, Any] = next(p for p in operation["parameters"] if p["name"] == name)
    return found["schema"]


# ------------------------------------------------------------------ integers


async def test_window_numbers_out_of_range_are_refused(app, client, hall) -> None:  # type: ignore[no-untyped-def]
    for action, body in WINDOW_ACTIONS.items():
        for number in (INT32_OVER, HUGE_NEGATIVE, 0):
            assert_problem(await act(client, hall, number, action, body), 422, "validation_error")
    assert_problem(
        await act(client, hall, 1, "transfer", {"window": INT32_OVER}), 422, "validation_error"
    )
    # The OpenAPI states the range (the hall file's: 1-9999).
    schema = _parameter(app, "/api/v1/halls/{hall}/windows/{number}/open", "post", "number")
    assert (schema["minimum"], schema["maximum"]) == (1, 9999)


async def test_ids_out_of_range_are_refused(app, client, hall, bhall) -> None:  # type: ignore[no-untyped-def]
    tickets = f"{API}/{hall.code}/tickets"
    bookings = f"{API}/{bhall.code}/bookings"
    for bad in (INT64_OVER, HUGE_NEGATIVE, 0):
        for response in (
            await client.get(f"{tickets}/{bad}", headers=hall.h("staff")),
            await client.post(f"{tickets}/{bad}/cancel", headers=hall.h("staff")),
            await client.get(f"{tickets}/{bad}/evaluation", headers=hall.h("staff")),
            await client.post(
                f"{tickets}/{bad}/evaluation", json={"level": 5}, headers=hall.h("kiosk")
            ),
            await client.post(f"{bookings}/{bad}/cancel", headers=bhall.h("staff")),
            await client.post(f"{bookings}/{bad}/excuse", headers=bhall.h("manager")),
            await act(client, hall, 1, "call", {"ticket_id": bad, "reason": "补办"}),
            await client.get(f"/t/{hall.code}/{bad}?format=json"),
        ):
            assert_problem(response, 422, "validation_error")
    # The OpenAPI states the range: ids below 2**63 (exclusive: exact as a JSON number).
    schema = _parameter(app, "/api/v1/halls/{hall}/tickets/{ticket_id}", "get", "ticket_id")
    assert (schema["minimum"], schema["exclusiveMaximum"]) == (1, 2**63)
    body = app.openapi()["components"]["schemas"]["CallTicketIn"]["properties"]["ticket_id"]
    # Optional (指呼 may give the printed number instead): the range is on the integer arm.
    (integer,) = [arm for arm in body["anyOf"] if arm.get("type") == "integer"]
    assert (integer["minimum"], integer["exclusiveMaximum"]) == (1, 2**63)


async def test_partner_ticket_id_out_of_range_is_refused(partner: PartnerClient) -> None:
    assert_problem(await partner.get(f"/tickets/{INT64_OVER}"), 422, "validation_error")


# ------------------------------------------------------------------ dates


async def test_staff_slots_and_day_of_dates_out_of_range_are_refused(client, bhall) -> None:  # type: ignore[no-untyped-def]
    base = f"{API}/{bhall.code}/bookings"
    for day in DAYS_OUT_OF_RANGE:
        slots = await client.get(
            f"{base}/slots?date={day}&service=business", headers=bhall.h("staff")
        )
        assert_problem(slots, 422, "date_out_of_range")
        listed = await client.get(f"{base}?date={day}", headers=bhall.h("staff"))
        assert_problem(listed, 422, "date_out_of_range")


async def test_partner_slots_of_dates_out_of_range_are_refused(partner: PartnerClient) -> None:
    for day in DAYS_OUT_OF_RANGE:
        r = await partner.get(f"/services/business/slots?date={day}")
        assert_problem(r, 422, "date_out_of_range")


async def test_booking_a_start_out_of_range_is_refused(partner: PartnerClient) -> None:
    for start in ("9999-12-31T23:30:00-12:00", "0001-01-01T00:00:00+08:00"):
        r = await partner.post(
            "/bookings", {"service": "business", "start": start, "id_number": ID_1}
        )
        assert_problem(r, 422, "date_out_of_range")


async def test_a_device_last_seen_that_cannot_be_stored_is_refused(client, hall) -> None:  # type: ignore[no-untyped-def]
    for last_seen in ("0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-12:00"):
        device = {"key": "printer", "kind": "printer", "status": "online", "last_seen": last_seen}
        r = await client.put(
            f"{API}/{hall.code}/devices/health", json={"devices": [device]}, headers=hall.h("kiosk")
        )
        body = assert_problem(r, 422, "validation_error")
        assert body["errors"][0]["loc"] == ["body", "devices", 0, "last_seen"]


# ------------------------------------------------------------------ NUL characters


async def test_nul_in_a_login_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(
        "/api/v1/auth/token",
        content=b"username=demo%00staff&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    body = assert_problem(r, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "username"]


async def test_nul_in_a_hall_code_is_refused(client, hall) -> None:  # type: ignore[no-untyped-def]
    r = await client.get(f"{API}/{hall.code}%00/queues", headers=hall.h("staff"))
    body = assert_problem(r, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["path", "hall"]


async def test_nul_in_a_pause_reason_is_refused(client, hall) -> None:  # type: ignore[no-untyped-def]
    assert (await act(client, hall, 1, "open")).status_code == 200
    r = await act(client, hall, 1, "pause", {"reason": "午休\u0000"})
    body = assert_problem(r, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "reason"]


async def test_nul_in_a_check_in_code_is_refused(client, bhall) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(
        f"{API}/{bhall.code}/bookings/check-in",
        json={"code": "JHB:bookhall:\u0000abc"},
        headers=bhall.h("kiosk"),
    )
    assert_problem(r, 422, "validation_error")


async def test_nul_in_a_service_filter_is_refused(client, bhall) -> None:  # type: ignore[no-untyped-def]
    day = time.strftime("%Y-%m-%d")
    r = await client.get(
        f"{API}/{bhall.code}/bookings",
        params={"date": day, "service": "busi\u0000ness"},
        headers=bhall.h("staff"),
    )
    body = assert_problem(r, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["query", "service"]


# ------------------------------------------------------------------ signatures, tokens


async def test_a_non_ascii_status_page_signature_is_not_found(client, hall) -> None:  # type: ignore[no-untyped-def]
    page = await client.get(f"/t/{hall.code}/1?s=%C3%A9")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert_problem(await client.get(f"/t/{hall.code}/1?s=%C3%A9&format=json"), 404, "not_found")


async def test_an_overflowing_partner_timestamp_is_stale(partner: PartnerClient) -> None:
    r = await partner.get("/services", **{"X-Jiaohao-Timestamp": "1" + "0" * 400})
    assert_problem(r, 401, "signature_stale")


async def test_a_staff_token_whose_subject_is_not_a_user_id_is_invalid(app, client, hall) -> None:  # type: ignore[no-untyped-def]
    secret = app.state.settings.secret_key
    now = int(time.time())
    for sub in ("admin", "²", str(INT64_OVER), "-1", " 1"):
        claims = {"sub": sub, "role": "admin", "hall": None, "iat": now, "exp": now + 60}
        token = jwt.encode({**claims, "typ": "staff"}, secret, algorithm="HS256")
        r = await client.get(
            f"{API}/{hall.code}/queues", headers={"Authorization": f"Bearer {token}"}
        )
        assert_problem(r, 401, "unauthorized")
