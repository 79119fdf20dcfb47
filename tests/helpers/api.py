"""Calls of the hall API that many tests make, and how a refusal must look."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.helpers.halls import Hall

API = "/api/v1/halls"


async def issue(
    client: httpx.AsyncClient,
    hall: Hall,
    service: str = "business",
    *,
    who: str = "kiosk",
    base: str = "",
    **extra: object,
) -> dict[str, Any]:
    """Issue a ticket (``extra`` goes into the body); it must be issued. ``base`` is an
    engine process's address, for a client of no base URL."""
    response = await client.post(
        f"{base}{API}/{hall.code}/tickets",
        json={"service": service, **extra},
        headers=hall.h(who),
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def act(
    client: httpx.AsyncClient,
    hall: Hall,
    window: int,
    action: str,
    body: dict[str, Any] | None = None,
    *,
    who: str = "manager",
    base: str = "",
) -> httpx.Response:
    """A window action (open, call-next, finish, ...), answered as it comes.

    By the hall's manager unless told (a manager acts at any window; a staff member
    only at the window they signed in to, and at one window at a time)."""
    return await client.post(
        f"{base}{API}/{hall.code}/windows/{window}/{action}", json=body, headers=hall.h(who)
    )


def token(hall: Hall, who: str = "display") -> str:
    """The bare bearer token of one of the hall's callers (a screen's by default)."""
    return hall.h(who)["Authorization"].split(" ", 1)[1]


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A refusal as application/problem+json with this status and stable code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status and body["detail"], body
    return body


# 前方还有N人 as the surfaces word it: an answer's wait_text, the public status page.
WAIT_TEXT = re.compile(r"^前方还有 (\d+) 人，")
PAGE_LINE = re.compile(r"前方还有 <b>(\d+)</b> 人")


def number_in(pattern: re.Pattern[str], text: str | None) -> int | None:
    """The one 前方还有N人 of a text; None when there is none, an error if several."""
    found = pattern.findall(text or "")
    assert len(found) <= 1, f"more than one 前方还有 in {text!r}"
    return int(found[0]) if found else None
