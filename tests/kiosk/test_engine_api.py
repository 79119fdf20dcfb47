"""Engine side of the kiosk: signed public status page, status_url, today's ticket by number."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.engine.public.signing import signature_valid, ticket_signature
from services.engine.tickets.numbering import parse_number
from tests.helpers.api import API, issue
from tests.helpers.app import app_for, client_of, serving
from tests.helpers.halls import Hall, seed_hall
from tests.helpers.net import local_path

SECRET = "test-secret-key-not-for-production"  # tests.helpers.app.make_settings


def test_signature_is_short_keyed_and_bound_to_hall_and_ticket() -> None:
    sig = ticket_signature(SECRET, "testhall", 7)
    assert len(sig) == 12 and sig.replace("-", "").replace("_", "").isalnum()
    assert signature_valid(SECRET, "testhall", 7, sig)
    assert not signature_valid(SECRET, "testhall", 8, sig)
    assert not signature_valid(SECRET, "otherhall", 7, sig)
    assert not signature_valid("another-secret-key-0000", "testhall", 7, sig)
    assert not signature_valid(SECRET, "testhall", 7, None)
    assert not signature_valid(SECRET, "testhall", 7, "")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("A023", ("A", 23)), ("a23", ("A", 23)), (" B 107 ", ("B", 107)), ("AB0001", ("AB", 1))],
)
def test_parse_number(text: str, parsed: tuple[str, int]) -> None:
    assert parse_number(text) == parsed


@pytest.mark.parametrize("text", ["", "023", "A", "A000", "ABC1", "A-1", "A1x"])
def test_parse_number_refuses_what_is_not_a_number(text: str) -> None:
    assert parse_number(text) is None


async def test_issued_ticket_carries_a_working_status_url(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    await issue(client, hall)
    ticket = await issue(client, hall)  # A002, one ahead
    url = ticket["status_url"]
    # At the address the request came in on (the client's base URL), JIAOHAO_PUBLIC_BASE_URL unset.
    assert url.startswith("http://test/t/testhall/")
    assert f"/t/testhall/{ticket['id']}?s=" in url

    page = await client.get(local_path(url))  # no token at all
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "A002" in page.text and "等候中" in page.text and "前方还有 <b>1</b> 人" in page.text
    assert 'http-equiv="refresh"' in page.text

    data = (await client.get(local_path(url), headers={"Accept": "application/json"})).json()
    assert data["number"] == "A002" and data["status"] == "waiting"
    assert data["waiting_ahead"] == 1 and data["window"] is None and data["final"] is False
    assert data["hall_name"] == "测试大厅" and data["service_name"] == "企业开办"
    same = await client.get(local_path(url) + "&format=json")
    assert same.json()["number"] == "A002"

    # Looked up by id, the ticket carries the same link.
    fetched = await client.get(f"{API}/{hall.code}/tickets/{ticket['id']}", headers=hall.h("kiosk"))
    assert fetched.json()["status_url"] == url


async def test_status_url_is_where_the_engine_was_reached_unless_configured(
    app: Any, database_url: str
) -> None:
    """Unset, JIAOHAO_PUBLIC_BASE_URL is the address each request came in on (an engine on
    another port or host gets its own); set, it is the address citizens' phones reach."""
    async with client_of(app, base_url="http://10.20.30.40:8123") as elsewhere:
        hall = await seed_hall(app, elsewhere)
        ticket = await issue(elsewhere, hall)
        assert ticket["status_url"].startswith("http://10.20.30.40:8123/t/testhall/")
        found = await elsewhere.get(
            f"{API}/{hall.code}/tickets", params={"number": "A001"}, headers=hall.h("kiosk")
        )
        assert found.json()["tickets"][0]["status_url"] == ticket["status_url"]
        page = await elsewhere.get(local_path(ticket["status_url"]))
        assert page.status_code == 200 and "A001" in page.text
    configured = app_for(database_url, public_base_url="https://hall.example.gov.cn/")
    async with serving(configured, base_url="http://10.20.30.40:8123") as client:
        ticket = await issue(client, hall)
        assert ticket["status_url"].startswith("https://hall.example.gov.cn/t/testhall/")
        fetched = await client.get(
            f"{API}/{hall.code}/tickets/{ticket['id']}", headers=hall.h("kiosk")
        )
        assert fetched.json()["status_url"] == ticket["status_url"]


async def test_status_page_follows_the_call_and_shows_no_personal_data(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    response = await client.post(
        f"{API}/{hall.code}/tickets",
        json={"service": "business", "phone": "13912345678", "id_number": "110101199003071234"},
        headers=hall.h("kiosk"),
    )
    ticket = response.json()
    path = local_path(ticket["status_url"])
    staff = hall.h("staff")
    assert (
        await client.post(f"{API}/{hall.code}/windows/3/open", headers=staff)
    ).status_code == 200
    called = await client.post(f"{API}/{hall.code}/windows/3/call-next", headers=staff)
    assert called.json()["ticket"]["number"] == ticket["number"]

    page = await client.get(path)
    assert "请到 3 号窗口办理" in page.text and "status-called" in page.text
    data = (await client.get(path + "&format=json")).json()
    assert data["status"] == "called" and data["window"] == 3 and data["waiting_ahead"] is None
    for personal in ("5678", "1234", "phone", "id_number", "person"):
        assert personal not in page.text and personal not in str(data)

    await client.post(f"{API}/{hall.code}/windows/3/finish", headers=staff)
    done = await client.get(path)
    assert "已办结" in done.text and 'http-equiv="refresh"' not in done.text
    assert (await client.get(path + "&format=json")).json()["final"] is True


async def test_status_link_follows_a_transfer(client: httpx.AsyncClient, hall: Hall) -> None:
    ticket = await issue(client, hall)
    staff = hall.h("staff")
    await client.post(f"{API}/{hall.code}/windows/3/open", headers=staff)
    await client.post(f"{API}/{hall.code}/windows/3/call-next", headers=staff)
    moved = await client.post(
        f"{API}/{hall.code}/windows/3/transfer", json={"service": "estate"}, headers=staff
    )
    assert moved.status_code == 200, moved.text
    data = (await client.get(local_path(ticket["status_url"]) + "&format=json")).json()
    assert data["number"] == ticket["number"] and data["status"] == "waiting"
    assert data["service_name"] == "不动产登记"


async def test_status_page_refuses_forged_or_foreign_links(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    first = await issue(client, hall)
    second = await issue(client, hall)
    sig = ticket_signature(SECRET, hall.code, first["id"])
    # Walking to the next id with the first ticket's signature gets nowhere.
    for path in (
        f"/t/{hall.code}/{second['id']}?s={sig}",
        f"/t/{hall.code}/{first['id']}",
        f"/t/{hall.code}/{first['id']}?s=AAAAAAAAAAAA",
        f"/t/otherhall/{first['id']}?s={ticket_signature(SECRET, 'otherhall', first['id'])}",
        f"/t/{hall.code}/99999?s={ticket_signature(SECRET, hall.code, 99999)}",
    ):
        page = await client.get(path)
        assert page.status_code == 404, path
        assert "未找到这张号票" in page.text and first["number"] not in page.text
        problem = await client.get(path, headers={"Accept": "application/json"})
        assert problem.status_code == 404
        assert problem.headers["content-type"].startswith("application/problem+json")
        assert problem.json()["code"] == "not_found"
    assert (await client.get(f"/t/{hall.code}/{first['id']}?s={sig}")).status_code == 200


async def test_find_todays_ticket_by_number(client: httpx.AsyncClient, hall: Hall) -> None:
    a1 = await issue(client, hall)
    b1 = await issue(client, hall, "estate")
    a2 = await issue(client, hall)
    url = f"{API}/{hall.code}/tickets"
    for query, expected in (("A002", [a2]), ("a2", [a2]), ("B001", [b1]), ("A001", [a1])):
        found = await client.get(url, params={"number": query}, headers=hall.h("kiosk"))
        assert found.status_code == 200, found.text
        tickets = found.json()["tickets"]
        assert [t["id"] for t in tickets] == [t["id"] for t in expected], query
        assert tickets[0]["status_url"] == expected[0]["status_url"]
    for missing in ("A003", "C001", "zz"):
        found = await client.get(url, params={"number": missing}, headers=hall.h("kiosk"))
        assert found.status_code == 200 and found.json() == {"tickets": []}, missing
    # Read access is needed: no token, no answer.
    assert (await client.get(url, params={"number": "A001"})).status_code == 401
    assert (await client.get(url, headers=hall.h("kiosk"))).status_code == 422


async def test_find_by_number_lists_a_transfer_chain(client: httpx.AsyncClient, hall: Hall) -> None:
    ticket = await issue(client, hall)
    staff = hall.h("staff")
    await client.post(f"{API}/{hall.code}/windows/3/open", headers=staff)
    await client.post(f"{API}/{hall.code}/windows/3/call-next", headers=staff)
    moved = await client.post(
        f"{API}/{hall.code}/windows/3/transfer", json={"service": "estate"}, headers=staff
    )
    successor = moved.json()["ticket"]
    found = await client.get(
        f"{API}/{hall.code}/tickets", params={"number": ticket["number"]}, headers=hall.h("kiosk")
    )
    chain = found.json()["tickets"]
    assert [t["id"] for t in chain] == [ticket["id"], successor["id"]]
    assert [t["status"] for t in chain] == ["transferred", "waiting"]


async def test_who_am_i_names_the_hall_so_a_kiosk_needs_only_its_token(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    for who in ("kiosk", "gateway", "staff"):
        me = await client.get("/api/v1/auth/me", headers=hall.h(who))
        assert me.status_code == 200, me.text
        assert me.json()["hall"] == "testhall", who
