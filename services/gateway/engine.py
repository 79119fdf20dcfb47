"""The gateway's HTTP link to the engine: window actions, ratings, health, set-up reads.

Retries are careful about what may have happened already. A request that never
reached the engine (connection refused while it restarts, or a proxy's 502/503/504)
is retried with backoff for a while. A request that may have been processed (the
answer was lost) is retried only when doing it twice is harmless: reads, health
reports and ratings (the engine refuses a second rating of one ticket). A window
action is never repeated then, so one key press never calls two citizens.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
MAYBE_DONE = (httpx.ReadTimeout, httpx.ReadError, httpx.WriteError, httpx.WriteTimeout,
              httpx.RemoteProtocolError)  # fmt: skip
RETRY_STATUS = frozenset({502, 503, 504})


class EngineRefused(Exception):
    """The engine answered with a refusal (problem+json): retrying will not help."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class EngineUnavailable(Exception):
    """The engine could not be reached within the retry budget."""


class OutcomeUnknown(Exception):
    """The request may or may not have been carried out (its answer was lost)."""


class EngineClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        min_backoff: float = 0.25,
        max_backoff: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "jiaohao-gateway"},
            timeout=timeout,
            transport=transport,
        )
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._sleep = sleep

    async def aclose(self) -> None:
        await self._http.aclose()

    def backoff(self, attempt: int) -> float:
        base = min(self.max_backoff, self.min_backoff * 2**attempt)
        return float(base * random.uniform(0.5, 1.0))

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        retry_for: float = 0.0,
        idempotent: bool = False,
    ) -> Any:
        """Send once, and again while it surely was not carried out, for ``retry_for`` s."""
        deadline = time.monotonic() + retry_for
        attempt = 0
        while True:
            try:
                response = await self._http.request(method, path, json=json)
            except NOT_SENT as err:
                failure: Exception = EngineUnavailable(f"{method} {path}: {err!r}")
            except MAYBE_DONE as err:
                if not idempotent:
                    raise OutcomeUnknown(f"{method} {path}: answer lost ({err!r})") from err
                failure = EngineUnavailable(f"{method} {path}: {err!r}")
            else:
                if response.status_code in RETRY_STATUS:
                    failure = EngineUnavailable(f"{method} {path}: {response.status_code}")
                elif response.status_code >= 500 and not idempotent:
                    raise OutcomeUnknown(f"{method} {path}: {response.status_code}")
                elif response.status_code >= 500:
                    failure = EngineUnavailable(f"{method} {path}: {response.status_code}")
                elif response.status_code >= 400:
                    raise _refusal(response)
                else:
                    return response.json() if response.content else None
            if time.monotonic() >= deadline:
                raise failure
            delay = min(self.backoff(attempt), max(deadline - time.monotonic(), 0.0))
            log.debug("engine: %s; retrying in %.1f s", failure, delay)
            await self._sleep(delay)
            attempt += 1

    # --- what the gateway asks -------------------------------------------------------

    async def me(self, *, retry_for: float) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "GET", "/api/v1/auth/me", retry_for=retry_for, idempotent=True
        )
        return result

    async def windows(self, hall: str, *, retry_for: float) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request(
            "GET", f"/api/v1/halls/{quote(hall)}/windows", retry_for=retry_for, idempotent=True
        )
        return result

    async def assignments(self, hall: str, *, retry_for: float) -> list[dict[str, Any]]:
        """This gateway's keypads and pads moved to other windows on the devices page."""
        result: list[dict[str, Any]] = await self.request(
            "GET",
            f"/api/v1/halls/{quote(hall)}/devices/assignments",
            retry_for=retry_for,
            idempotent=True,
        )
        return result

    async def window_action(
        self, hall: str, window: int, action: str, body: dict[str, Any] | None, *, retry_for: float
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "POST",
            f"/api/v1/halls/{quote(hall)}/windows/{window}/{action}",
            json=body,
            retry_for=retry_for,
        )
        return result

    async def rate(self, hall: str, ticket_id: int, level: int, *, retry_for: float) -> Any:
        # Safe to repeat: a second rating of one ticket is refused (already_rated).
        return await self.request(
            "POST",
            f"/api/v1/halls/{quote(hall)}/tickets/{ticket_id}/evaluation",
            json={"level": level, "from_pad": True},
            retry_for=retry_for,
            idempotent=True,
        )

    async def report_health(self, hall: str, devices: list[dict[str, Any]]) -> Any:
        return await self.request(
            "PUT",
            f"/api/v1/halls/{quote(hall)}/devices/health",
            json={"devices": devices},
            idempotent=True,
        )


def _refusal(response: httpx.Response) -> EngineRefused:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return EngineRefused(
        response.status_code,
        str(body.get("code") or response.status_code),
        str(body.get("detail") or response.text[:200]),
    )
