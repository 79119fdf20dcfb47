"""The hall display page (综合屏): one HTML page that follows the event bus and speaks calls."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse

from services.engine.auth import service as auth_service
from services.engine.auth.permissions import Capability, authorise
from services.engine.core.errors import NotFound, Unauthorized
from services.engine.core.problems import problem_responses
from services.engine.deps import SessionDep, SettingsDep
from services.engine.halls.service import get_hall

router = APIRouter(tags=["display"])

STATIC = Path(__file__).resolve().parent / "static"
VOICE = Path(__file__).resolve().parents[1] / "static" / "voice"
ASSETS = {"display.js": "text/javascript; charset=utf-8", "display.css": "text/css; charset=utf-8"}
_HALL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # The display token is in the page's address: never send it on as a referrer.
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "media-src 'self'; style-src 'self'; script-src 'self'"
    ),
}


@lru_cache
def _template() -> str:
    return (STATIC / "display.html").read_text(encoding="utf-8")


@lru_cache
def voice_clips() -> frozenset[str]:
    """The clip names the page may ask for: the ones shipped (docs/bus.md lists them)."""
    return frozenset(p.stem for p in VOICE.glob("*.wav"))


@router.get(
    "/display/{hall}",
    response_class=HTMLResponse,
    include_in_schema=True,
    responses=problem_responses(401, 403),  # the display token is checked here
)
async def display_page(
    hall: str,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Query(description="the hall display's device token")] = None,
) -> HTMLResponse:
    """The hall display; open it as /display/{hall}?token=<display token>."""
    if not token:
        raise Unauthorized("open the display as /display/<hall>?token=<display token>")
    principal = await auth_service.principal_from_token(
        session=session, token=token, secret=settings.secret_key
    )
    found = await get_hall(session=session, code=hall)
    authorise(principal, Capability.READ, found.id)
    await session.commit()
    page = (
        _template()
        .replace("{{hall_code}}", html.escape(found.code))
        .replace("{{hall_name}}", html.escape(found.name))
        .replace("{{timezone}}", html.escape(found.timezone))
        .replace("{{voice_repeat}}", str(settings.voice_repeat))
    )
    return HTMLResponse(page, headers=_PAGE_HEADERS)


@router.get("/display/assets/{name}", include_in_schema=False)
async def display_asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise NotFound(f"no display asset {name!r}")
    return FileResponse(
        STATIC / name, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"}
    )


@router.get("/display/{hall}/voice/{clip}.wav", include_in_schema=False)
async def voice_clip(hall: str, clip: str, settings: SettingsDep) -> FileResponse:
    """A voice clip: the hall's recorded one if it has one, else the shipped one."""
    if clip not in voice_clips() or not _HALL.match(hall):
        raise NotFound(f"no voice clip {clip!r}")
    candidates = []
    if settings.voice_dir:
        base = Path(settings.voice_dir)
        candidates += [base / hall / f"{clip}.wav", base / f"{clip}.wav"]
    candidates.append(VOICE / f"{clip}.wav")
    path = next(p for p in candidates if p.is_file())
    return FileResponse(
        path, media_type="audio/wav", headers={"Cache-Control": "public, max-age=3600"}
    )
