"""The engine's logs: JSON lines with a request id, and never a token, password, ID
number or phone number, whatever a full flow sends."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from services.engine.logs import JsonFormatter, ScrubFilter, scrub
from tests.helpers.api import API, act, issue, token
from tests.helpers.app import app_for, serving
from tests.helpers.bookings import BOOKING_HALL, ID_1, PHONE, PartnerClient, add_partner, book
from tests.helpers.halls import PASSWORD, seed_hall

ID_2 = "110105194912310037"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every engine log line of the test, as the JSON handler writes them."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ScrubFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_a_full_flow_logs_nothing_secret(database_url: str, json_log: io.StringIO) -> None:
    app = app_for(database_url, log_format="json")
    async with serving(app) as client:
        hall = await seed_hall(app, client, BOOKING_HALL)
        partner_id, key_id, secret = await add_partner(app, hall.code)
        partner = PartnerClient(client, key_id, secret, hall.code, partner_id)
        await book(partner)
        username = f"{hall.code}-manager"
        login = await client.post(
            "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        staff = login.json()["access_token"]
        wrong = await client.post(
            "/api/v1/auth/token", data={"username": username, "password": PASSWORD + "x"}
        )
        assert wrong.status_code == 401
        ticket = await issue(client, hall, id_number=ID_2, phone=PHONE)
        await act(client, hall, 1, "open")
        await act(client, hall, 1, "call-next")
        await act(client, hall, 1, "finish")
        # The request id: the proxy's kept, a bad one replaced, and returned either way.
        sent = {"X-Request-ID": "proxy-42.a", **hall.h("display")}
        looked = await client.get(f"{API}/{hall.code}/tickets/{ticket['id']}", headers=sent)
        assert looked.headers["x-request-id"] == "proxy-42.a"
        odd = await client.get("/healthz", headers={"X-Request-ID": "no spaces {allowed}"})
        assert len(odd.headers["x-request-id"]) == 32
        # A log line that carries secrets itself is scrubbed too.
        logging.getLogger("services.engine.test").warning(
            "pasted %s Bearer %s %s phone %s", f"/x?token={token(hall)}", staff, ID_1, PHONE
        )

    text = json_log.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    secrets = [PASSWORD, staff, ID_1, ID_2, PHONE, secret, *(token(hall, w) for w in hall.headers)]
    assert [s for s in secrets if s in text] == []
    access = [x for x in lines if x["logger"] == "jiaohao.access"]
    issued = [x for x in access if x["route"] == API + "/{hall}/tickets"]
    assert len(issued) == 1 and issued[0]["status"] == 201 and issued[0]["hall"] == hall.code
    assert issued[0]["caller"].startswith("device:kiosk:") and issued[0]["client"] == "127.0.0.1"
    assert [x["request_id"] for x in access if x["request_id"] == "proxy-42.a"]
    booked = [x for x in access if x.get("caller") == f"partner:partner:{partner_id}"]
    assert booked and all(x["route"].endswith("/bookings") for x in booked if x["method"] == "POST")
    logins = [x["status"] for x in access if x["route"] == "/api/v1/auth/token"]
    assert logins == [200, 401]
    assert len({x["request_id"] for x in access}) == len(access)


def test_scrub() -> None:
    assert scrub("GET /e?since=3&token=jhd_abc-DEF&x=1") == "GET /e?since=3&token=[redacted]&x=1"
    assert scrub("Authorization: Bearer eyJa.b.c") == "Authorization: Bearer [redacted]"
    assert scrub(f"id {ID_1} and {ID_2}.") == "id [id number] and [id number]."
    assert scrub(f"call +86{PHONE} or {PHONE}") == "call [phone] or [phone]"
    # Ticket numbers, ids, durations and hall codes stay.
    kept = "ticket A023 id 12345 took 1234567 us in hall demo-1"
    assert scrub(kept) == kept


def test_text_lines_scrubbed_as_uvicorn_writes_them() -> None:
    """The text format keeps uvicorn's own lines (its access formatter reads the
    arguments by position), with a screen's token taken out of the socket's path."""
    import logging.config

    from services.engine.logs import uvicorn_log_config

    config = uvicorn_log_config("text", "info")
    out = io.StringIO()
    for handler in config["handlers"].values():
        handler["stream"] = out
    names = ["", *config["loggers"]]
    saved = {
        name: (list(lg.handlers), lg.level, lg.propagate, lg.disabled)
        for name in names
        for lg in [logging.getLogger(name)]
    }
    logging.config.dictConfig(config)
    try:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "203.0.113.9:5123",
            "GET",
            "/api/v1/halls/demo/events?since=4&token=jhd_secretSECRET",
            "1.1",
            101,
        )
        logging.getLogger("uvicorn.error").info(
            '%s - "WebSocket %s" [accepted]', "203.0.113.9:5123", "/e?token=jhd_secretSECRET"
        )
    finally:
        for name, (handlers, level, propagate, disabled) in saved.items():
            lg = logging.getLogger(name)
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate, lg.disabled = propagate, disabled
    written = out.getvalue()
    assert "secretSECRET" not in written
    assert '203.0.113.9:5123 - "GET /api/v1/halls/demo/events?since=4&token=[redacted]' in written
    assert '"WebSocket /e?token=[redacted]" [accepted]' in written
