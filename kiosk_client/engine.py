"""The kiosk's link to the ticket engine (HTTP, JSON, problem+json refusals)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx


class EngineUnreachable(Exception):
    """No answer from the engine (down, network cut, timed out, or a server error)."""


class EngineRefused(Exception):
    """The engine answered with a refusal (problem+json): ``code`` says which."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code") or f"http_{status}")
        self.detail = str(problem.get("detail") or "")
        super().__init__(f"{status} {self.code}: {self.detail}")

    @property
    def extra(self) -> dict[str, Any]:
        return self.problem


class EngineClient:
    """Calls the engine as one kiosk device (its bearer token)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 8.0,
        probe_timeout: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.hall: str | None = None
        self.probe_timeout = probe_timeout
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "jiaohao-kiosk"},
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _hall_path(self, tail: str = "") -> str:
        if self.hall is None:
            raise RuntimeError("the kiosk's hall is not known yet")
        return f"/api/v1/halls/{quote(self.hall, safe='')}{tail}"

    async def _request(
        self, method: str, path: str, *, time_limit: float | None = None, **kwargs: Any
    ) -> Any:
        try:
            response = await self._http.request(
                method,
                path,
                timeout=time_limit if time_limit is not None else httpx.USE_CLIENT_DEFAULT,
                **kwargs,
            )
        except httpx.HTTPError as err:
            raise EngineUnreachable(f"{method} {path}: {err!r}") from err
        if response.status_code >= 500:
            raise EngineUnreachable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {}
            if not isinstance(problem, dict):
                problem = {}
            raise EngineRefused(response.status_code, problem)
        return response.json() if response.content else None

    async def probe(self) -> None:
        """Is the engine there? Raises EngineUnreachable (quickly) if not."""
        await self._request("GET", "/healthz", time_limit=self.probe_timeout)

    async def whoami(self) -> dict[str, Any]:
        data: dict[str, Any] = await self._request("GET", "/api/v1/auth/me")
        return data

    async def hall_info(self) -> dict[str, Any]:
        data: dict[str, Any] = await self._request("GET", self._hall_path())
        return data

    async def queues(self) -> dict[str, Any]:
        data: dict[str, Any] = await self._request("GET", self._hall_path("/queues"))
        return data

    async def issue(self, service: str) -> dict[str, Any]:
        data: dict[str, Any] = await self._request(
            "POST", self._hall_path("/tickets"), json={"service": service}
        )
        return data

    async def check_in(self, code: str) -> dict[str, Any]:
        data: dict[str, Any] = await self._request(
            "POST", self._hall_path("/bookings/check-in"), json={"code": code}
        )
        return data

    async def find_by_number(self, number: str) -> list[dict[str, Any]]:
        data = await self._request("GET", self._hall_path("/tickets"), params={"number": number})
        return list(data["tickets"])

    async def report_health(self, devices: list[dict[str, Any]]) -> dict[str, Any]:
        data: dict[str, Any] = await self._request(
            "PUT", self._hall_path("/devices/health"), json={"devices": devices}
        )
        return data
