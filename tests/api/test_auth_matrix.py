"""Who may do what: every kind of caller against every endpoint family, and staff login."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import jwt
import pytest
from sqlalchemy import update

from services.engine.auth.models import User
from services.engine.auth.security import create_access_token
from tests.helpers.api import API, assert_problem
from tests.helpers.app import access_change
from tests.helpers.halls import PASSWORD, Hall, seed_hall
from tests.helpers.regions import TOWN_A, TOWN_B, place, put_region, region_admin

SECRET = "test-secret-key-not-for-production"  # what tests.helpers.app.make_settings uses

# The expected policy, written out here rather than read from permissions.py.
READ = {"admin", "manager", "staff", "kiosk", "gateway", "display", "city_admin", "region_admin"}
ALLOWED: dict[str, set[str]] = {
    "read_ticket": READ,
    "read_queues": READ,
    "read_windows": READ,
    "read_hall": READ,
    "issue": {"admin", "manager", "staff", "kiosk", "city_admin"},
    "window_open": {"admin", "manager", "staff", "gateway", "city_admin"},
    "window_pause": {"admin", "manager", "staff", "gateway", "city_admin"},
    "cancel": {"admin", "manager", "staff", "city_admin"},
    # A rating is the citizen's own: only their devices (and an admin) record one.
    "rate": {"admin", "kiosk", "gateway", "city_admin"},
    # The hall's devices (设备管理): its managers and admins only.
    "device_admin": {"admin", "manager", "city_admin"},
}
UNAUTHENTICATED = ["no_token", "bad_token", "forged_jwt", "unknown_device", "expired_jwt"]
OTHER_HALL = [
    f"other_{who}" for who in ("admin", "manager", "staff", "kiosk", "gateway", "display")
] + ["other_region_admin"]  # a region admin of the neighbouring town (regions/)
# A region admin of the hall's town reads, and acts in nothing.
# A station device (jiaohao stats push) only pushes a remote hall's figures: refused here.
OWN = ["admin", "manager", "staff", "kiosk", "gateway", "display", "city_admin", "region_admin"]
OWN += ["station"]


@dataclass
class World:
    client: httpx.AsyncClient
    hall: Hall
    headers: dict[str, dict[str, str]]
    shared: dict[str, int] = field(default_factory=dict)

    async def waiting_ticket(self) -> int:
        response = await self.client.post(
            f"{API}/{self.hall.code}/tickets",
            json={"service": "business"},
            headers=self.hall.h("kiosk"),
        )
        assert response.status_code == 201, response.text
        ticket_id: int = response.json()["id"]
        return ticket_id

    async def done_ticket(self) -> int:
        ticket_id = await self.waiting_ticket()
        staff = self.hall.h("staff")
        base = f"{API}/{self.hall.code}/windows/3"
        assert (await self.client.post(f"{base}/open", headers=staff)).status_code == 200
        called = await self.client.post(
            f"{base}/call", json={"ticket_id": ticket_id, "reason": "auth test"}, headers=staff
        )
        assert called.json()["ticket"]["id"] == ticket_id, called.text
        assert (await self.client.post(f"{base}/finish", headers=staff)).status_code == 200
        return ticket_id


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_world(app, client: httpx.AsyncClient) -> World:  # type: ignore[no-untyped-def]
    hall = await seed_hall(app, client)
    other = await seed_hall(app, client, other_code="otherhall")
    manager_id = int(
        jwt.decode(
            hall.h("manager")["Authorization"].split()[1], options={"verify_signature": False}
        )["sub"]
    )
    async with app.state.sessionmaker() as session:
        # A city-wide administrator belongs to no hall.
        city = User(
            hall_id=None, username="city-admin", password_hash="x", role="admin", active=True
        )
        session.add(city)
        await session.commit()
        city_id = city.id
    headers = {
        who: hall.h(who)
        for who in ("admin", "manager", "staff", "kiosk", "gateway", "display", "station")
    }
    headers.update({f"other_{who}": other.h(who) for who in list(headers)})
    headers["city_admin"] = bearer(
        create_access_token(secret=SECRET, user_id=city_id, role="admin", hall_id=None, minutes=5)
    )
    await put_region(app, TOWN_A, "北山街道")
    await put_region(app, TOWN_B, "西溪街道")
    await place(app, hall.code, TOWN_A)
    await place(app, other.code, TOWN_B)
    headers["region_admin"] = await region_admin(app, "beishan-admin", TOWN_A)
    headers["other_region_admin"] = await region_admin(app, "xixi-admin", TOWN_B)
    headers["no_token"] = {}
    headers["bad_token"] = bearer("not-a-token")
    headers["forged_jwt"] = bearer(
        create_access_token(
            secret="someone-elses-secret-key-of-32-bytes",
            user_id=manager_id,
            role="admin",
            hall_id=None,
            minutes=5,
        )
    )
    headers["unknown_device"] = bearer("jhd_" + "A" * 43)
    headers["expired_jwt"] = bearer(
        create_access_token(
            secret=SECRET, user_id=manager_id, role="manager", hall_id=None, minutes=-1
        )
    )
    world = World(client, hall, headers)
    world.shared = {"waiting": await world.waiting_ticket(), "done": await world.done_ticket()}
    opened = await client.post(f"{API}/{hall.code}/windows/2/open", headers=hall.h("staff"))
    assert opened.status_code == 200
    return world


# A request of one endpoint family: (world, headers, fresh) -> response. ``fresh``
# asks for a target of its own (an allowed cancel or rating uses its ticket up);
# refused callers all aim at the same real target.
Request = Callable[[World, dict[str, str], bool], Awaitable[httpx.Response]]


async def _read_ticket(w: World, h: dict[str, str], fresh: bool) -> httpx.Response:
    return await w.client.get(f"{API}/{w.hall.code}/tickets/{w.shared['waiting']}", headers=h)


async def _read_queues(w: World, h: dict[str, str], fresh: bool) -> httpx.Response:
    return await w.client.get(f"{API}/{w.hall.code}/queues", headers=h)


async def _read_windows(w: World, h: dict[str, str], fresh: bool) -> httpx.Response:
    return await w.client.get(f"{API}/{w.hall.code}/windows", headers=h)


async def _read_hall(w: World, h: dict[str, str], fresh: bool) -> httpx.Response:
    return await w.client.get(f"{API}/{w.hall.code}", headers=h)


async def _issue(w: World, h: dict[str, str], fresh: bool) -> httpx.Response:
    url = f"{API}/{w.hall.code}/tickets"
    return await w.client.post(url, json={"service": "business"}, headers=h)


async def _window_open(w: World, h: dict[str, str], fresh: bool) -> httpx.Response:
    return await w.client.post(f"{API}/{w.hall.code}/windows/1/open", headers=h)


async def _window_pause(w: World, h: dict[str, str], fresh: bool) -> httpx.Response:
    # Window 1, just opened by the same caller (a staff member opening it signed in
    # there: staff act only where they are signed in); pausing it again is allowed.
    url = f"{API}/{w.hall.code}/windows/1/pause"
    return await w.client.post(url, json={"reason": "临时离岗"}, headers=h)


async def _cancel(w: World, h: dict[str, str], fresh: bool) -> httpx.Response:
    ticket_id = await w.waiting_ticket() if fresh else w.shared["waiting"]
    url = f"{API}/{w.hall.code}/tickets/{ticket_id}/cancel"
    return await w.client.post(url, json={"reason": "left"}, headers=h)


async def _rate(w: World, h: dict[str, str], fresh: bool) -> httpx.Response:
    ticket_id = await w.done_ticket() if fresh else w.shared["done"]
    url = f"{API}/{w.hall.code}/tickets/{ticket_id}/evaluation"
    return await w.client.post(url, json={"level": 5}, headers=h)


async def _device_admin(w: World, h: dict[str, str], fresh: bool) -> httpx.Response:
    return await w.client.get(f"{API}/{w.hall.code}/devices/admin", headers=h)


REQUESTS: dict[str, tuple[Request, int]] = {
    "read_ticket": (_read_ticket, 200),
    "read_queues": (_read_queues, 200),
    "read_windows": (_read_windows, 200),
    "read_hall": (_read_hall, 200),
    "issue": (_issue, 201),
    "window_open": (_window_open, 200),
    "window_pause": (_window_pause, 200),
    "cancel": (_cancel, 200),
    "rate": (_rate, 201),
    "device_admin": (_device_admin, 200),
}


def expected_status(caller: str, family: str) -> int:
    if caller in UNAUTHENTICATED:
        return 401
    if caller in OTHER_HALL or caller not in ALLOWED[family]:
        return 403
    return REQUESTS[family][1]


def assert_refused(response: httpx.Response, status: int) -> None:
    assert_problem(response, status, {401: "unauthorized", 403: "forbidden"}[status])
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


async def test_auth_matrix(app, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    """The whole table at once, so a failure shows every cell that differs."""
    world = await make_world(app, client)
    callers = OWN + OTHER_HALL + UNAUTHENTICATED
    seen: dict[str, dict[str, int]] = {}
    for caller in callers:
        seen[caller] = {}
        for family, (request, _ok) in REQUESTS.items():
            fresh = expected_status(caller, family) < 400
            response = await request(world, world.headers[caller], fresh)
            seen[caller][family] = response.status_code
            if response.status_code in (401, 403):
                assert_refused(response, response.status_code)
    expected = {c: {f: expected_status(c, f) for f in REQUESTS} for c in callers}
    assert seen == expected


async def test_refused_actions_change_nothing(app, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(app, client)
    ticket_id = world.shared["waiting"]
    code = world.hall.code
    for caller in ("display", "kiosk", "other_manager", "no_token"):
        h = world.headers[caller]
        assert (
            await client.post(f"{API}/{code}/tickets/{ticket_id}/cancel", headers=h)
        ).status_code in (401, 403)
        assert (await client.post(f"{API}/{code}/windows/1/open", headers=h)).status_code in (
            401,
            403,
        )
    for caller in ("display", "other_kiosk", "expired_jwt"):
        issued = await client.post(
            f"{API}/{code}/tickets", json={"service": "business"}, headers=world.headers[caller]
        )
        assert issued.status_code in (401, 403)
    looked = await client.get(f"{API}/{code}/tickets/{ticket_id}", headers=world.hall.h("staff"))
    assert looked.json()["status"] == "waiting"
    windows = (await client.get(f"{API}/{code}/windows", headers=world.hall.h("staff"))).json()
    assert next(w for w in windows if w["number"] == 1)["state"] == "closed"
    queues = (await client.get(f"{API}/{code}/queues", headers=world.hall.h("staff"))).json()[
        "queues"
    ]
    # Only the two tickets of the set-up were issued.
    assert next(q for q in queues if q["service"] == "business")["issued_today"] == 2


async def test_disabled_account_is_refused(app, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    hall = await seed_hall(app, client)
    queues = f"{API}/{hall.code}/queues"
    assert (await client.get(queues, headers=hall.h("staff"))).status_code == 200
    async with access_change(app), app.state.sessionmaker() as session:
        await session.execute(
            update(User).where(User.username == f"{hall.code}-staff").values(active=False)
        )
        await session.commit()
    refused = await client.get(queues, headers=hall.h("staff"))
    assert refused.status_code == 401
    assert_refused(refused, 401)


# --- staff login ----------------------------------------------------------------------


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )


async def test_login_with_the_right_password(app, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    hall = await seed_hall(app, client)
    response = await login(client, f"{hall.code}-manager", PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    token = body["access_token"]
    me = await client.get("/api/v1/auth/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["kind"] == "user" and me.json()["role"] == "manager"
    assert me.json()["name"] == f"{hall.code}-manager"
    # The token works: a manager may open a window, and may not rate.
    opened = await client.post(f"{API}/{hall.code}/windows/1/open", headers=bearer(token))
    assert opened.status_code == 200 and opened.json()["window"]["state"] == "idle"
    queues = await client.get(f"{API}/{hall.code}/queues", headers=bearer(token))
    assert queues.status_code == 200


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("testhall-manager", "wrong password"),
        ("TESTHALL-MANAGER", PASSWORD),
        ("testhall-manager", PASSWORD.upper()),
        ("nobody-here", PASSWORD),
    ],
)
async def test_login_refused(app, client: httpx.AsyncClient, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    await seed_hall(app, client)
    response = await login(client, username, password)
    assert response.status_code == 401, response.text
    assert_refused(response, 401)
    # The same answer for an unknown user and a wrong password: no account probing.
    assert response.json()["detail"] == "wrong username or password"
    assert "access_token" not in response.json()


async def test_login_of_a_disabled_account_refused(app, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    hall = await seed_hall(app, client)
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(User).where(User.username == f"{hall.code}-staff").values(active=False)
        )
        await session.commit()
    response = await login(client, f"{hall.code}-staff", PASSWORD)
    assert response.status_code == 401
    assert_refused(response, 401)


async def test_me_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert_refused(response, 401)
