"""Accounts of a hall from the manager's pages (账号管理), on both databases: list with
the last login, add with a generated password shown once, disable and enable, reset the
password; a manager manages staff only, an admin staff and managers, nobody another hall."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.api import API, assert_problem
from tests.helpers.halls import PASSWORD, Hall


def url(hall: Hall, path: str = "") -> str:
    return f"{API}/{hall.code}/accounts{path}"


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )


async def accounts(client: httpx.AsyncClient, hall: Hall) -> dict[str, dict[str, Any]]:
    response = await client.get(url(hall), headers=hall.h("manager"))
    assert response.status_code == 200, response.text
    return {a["username"]: a for a in response.json()}


async def test_a_manager_adds_a_clerk_who_then_logs_in(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    listed = await accounts(client, hall)
    assert {a["role"] for a in listed.values()} == {"admin", "manager", "staff"}
    assert listed["testhall-staff"]["last_login_at"] is None
    added = await client.post(
        url(hall), json={"username": "wang.li", "role": "staff"}, headers=hall.h("manager")
    )
    assert added.status_code == 201, added.text
    password = added.json()["password"]
    assert len(password) == 12 and added.json()["account"]["active"] is True
    assert (await login(client, "wang.li", password)).status_code == 200
    assert (await accounts(client, hall))["wang.li"]["last_login_at"] is not None
    # The password is never shown again, nor kept in clear.
    assert password not in (await client.get(url(hall), headers=hall.h("manager"))).text
    again = await client.post(
        url(hall), json={"username": "wang.li", "role": "staff"}, headers=hall.h("manager")
    )
    assert_problem(again, 409, "account_exists")


async def test_disable_enable_and_reset_a_clerk(client: httpx.AsyncClient, hall: Hall) -> None:
    staff = (await accounts(client, hall))["testhall-staff"]
    me = hall.h("staff")
    assert (await client.get("/api/v1/auth/me", headers=me)).status_code == 200
    off = await client.post(url(hall, f"/{staff['id']}/disable"), headers=hall.h("manager"))
    assert off.status_code == 200 and off.json()["active"] is False
    # The clerk's token and password stop working at once.
    assert_problem(await client.get("/api/v1/auth/me", headers=me), 401, "unauthorized")
    assert (await login(client, "testhall-staff", PASSWORD)).status_code == 401
    on = await client.post(url(hall, f"/{staff['id']}/enable"), headers=hall.h("manager"))
    assert on.json()["active"] is True
    assert (await login(client, "testhall-staff", PASSWORD)).status_code == 200
    reset = await client.post(
        url(hall, f"/{staff['id']}/reset-password"), headers=hall.h("manager")
    )
    assert reset.status_code == 200
    assert (await login(client, "testhall-staff", PASSWORD)).status_code == 401
    assert (await login(client, "testhall-staff", reset.json()["password"])).status_code == 200
    audit = await client.get(
        f"{API}/{hall.code}/audit",
        params={"since": "2000-01-01T00:00:00+00:00"},
        headers=hall.h("manager"),
    )
    assert [e["action"] for e in audit.json()] == [
        "account.reset_password",
        "account.enable",
        "account.disable",
    ]
    assert reset.json()["password"] not in audit.text


async def test_who_manages_whom(client: httpx.AsyncClient, hall: Hall, bhall: Hall) -> None:
    listed = await accounts(client, hall)
    manager, admin = listed["testhall-manager"], listed["testhall-admin"]
    # A manager manages staff only: not managers, not admins, not itself.
    for target in (manager, admin):
        response = await client.post(
            url(hall, f"/{target['id']}/disable"), headers=hall.h("manager")
        )
        assert_problem(response, 403, "forbidden")
    as_manager = await client.post(
        url(hall), json={"username": "boss2", "role": "manager"}, headers=hall.h("manager")
    )
    assert_problem(as_manager, 403, "forbidden")
    # An admin of the hall adds and disables managers.
    by_admin = await client.post(
        url(hall), json={"username": "boss2", "role": "manager"}, headers=hall.h("admin")
    )
    assert by_admin.status_code == 201
    off = await client.post(url(hall, f"/{manager['id']}/disable"), headers=hall.h("admin"))
    assert off.status_code == 200
    # Staff and devices are refused; another hall's manager too; another hall's account
    # is not found from this hall.
    for who in ("staff", "kiosk", "gateway", "display"):
        assert_problem(await client.get(url(hall), headers=hall.h(who)), 403, "forbidden")
        response = await client.post(
            url(hall), json={"username": "x-y-z", "role": "staff"}, headers=hall.h(who)
        )
        assert_problem(response, 403, "forbidden")
    assert_problem(await client.get(url(hall), headers=bhall.h("manager")), 403, "forbidden")
    other = {
        a["username"]: a for a in (await client.get(url(bhall), headers=bhall.h("admin"))).json()
    }
    stranger = other[f"{bhall.code}-staff"]["id"]
    response = await client.post(url(hall, f"/{stranger}/disable"), headers=hall.h("admin"))
    assert_problem(response, 404, "not_found")
    bad = await client.post(
        url(hall), json={"username": "a b", "role": "staff"}, headers=hall.h("admin")
    )
    assert_problem(bad, 422, "validation_error")
