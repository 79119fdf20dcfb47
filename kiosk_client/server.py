"""The kiosk's local web server: the touch page and the small API it calls.

It listens on loopback by default: the kiosk's own browser (in kiosk mode) is its
only client. Staff actions need the PIN in the ``X-Staff-Pin`` header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from .kiosk import Kiosk

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {
    "kiosk.js": "text/javascript; charset=utf-8",
    "kiosk.css": "text/css; charset=utf-8",
}
_NO_STORE = {"Cache-Control": "no-store"}
_PAGE_HEADERS = {
    **_NO_STORE,
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"
    ),
    "Referrer-Policy": "no-referrer",
}
LONG_POLL_MAX = 20.0


class ServiceIn(BaseModel):
    service: str = Field(min_length=1, max_length=64)


class CodeIn(BaseModel):
    code: str = Field(min_length=1, max_length=200)


class PinIn(BaseModel):
    pin: str = Field(min_length=1, max_length=32)


class NumberIn(BaseModel):
    number: str = Field(min_length=2, max_length=16)


def create_app(kiosk: Kiosk) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await kiosk.start()
        yield
        await kiosk.stop()

    app = FastAPI(title="jiaohao kiosk", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.kiosk = kiosk

    @app.middleware("http")
    async def same_origin_only(request: Request, call_next: Any) -> Any:
        # Another page open in the kiosk's browser must not take tickets or reprint.
        origin = request.headers.get("origin")
        foreign = origin is not None and urlsplit(origin).netloc != request.headers.get("host")
        if request.method != "GET" and foreign:
            return JSONResponse({"detail": "cross-origin request refused"}, status_code=403)
        return await call_next(request)

    def staff(pin: str | None) -> None:
        if kiosk.config.staff_pin is None:
            raise HTTPException(404, "staff actions are off (no PIN configured)")
        if kiosk.pin_locked():
            raise HTTPException(429, "too many wrong PINs; wait a minute")
        if not kiosk.pin_ok(pin):
            raise HTTPException(403, "wrong PIN")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(
            STATIC / "kiosk.html", media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS
        )

    @app.get("/assets/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise HTTPException(404, "no such asset")
        return FileResponse(STATIC / name, media_type=ASSETS[name], headers=_NO_STORE)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            "engine": kiosk.engine_state,
            "printer": kiosk.printer.health.state.value,
            "hall": kiosk.engine.hall,
            "bus": kiosk.bus_state,
            "health_reports": kiosk.health_reports,
        }

    @app.get("/api/state")
    async def state(
        after: Annotated[int, Query(ge=-1)] = -1,
        wait: Annotated[float, Query(ge=0, le=LONG_POLL_MAX)] = 0,
    ) -> JSONResponse:
        """The page's whole state; with ``after`` and ``wait``, a long poll for the next change."""
        if wait > 0:
            await kiosk.wait_change(after, wait)
        return JSONResponse(kiosk.state(), headers=_NO_STORE)

    @app.post("/api/tickets")
    async def take_ticket(body: ServiceIn) -> dict[str, Any]:
        return await kiosk.take_ticket(body.service)

    @app.post("/api/check-in")
    async def check_in(body: CodeIn) -> dict[str, Any]:
        return await kiosk.check_in(body.code)

    @app.post("/api/staff/unlock")
    async def unlock(body: PinIn) -> dict[str, Any]:
        staff(body.pin)
        return {"ok": True, "unprinted": kiosk.unprinted_list(), "printer": kiosk.printer_view()}

    @app.get("/api/staff/unprinted")
    async def unprinted(
        pin: Annotated[str | None, Header(alias="X-Staff-Pin")] = None,
    ) -> dict[str, Any]:
        staff(pin)
        return {"unprinted": kiosk.unprinted_list(), "printer": kiosk.printer_view()}

    @app.post("/api/staff/reprint")
    async def reprint(
        body: NumberIn, pin: Annotated[str | None, Header(alias="X-Staff-Pin")] = None
    ) -> dict[str, Any]:
        staff(pin)
        result = await kiosk.reprint(body.number)
        result["unprinted"] = kiosk.unprinted_list()
        return result

    return app
