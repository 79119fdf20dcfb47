"""The window console page (软件呼叫器): ``/console/{hall}``, with its own files.

The page holds no secret: the clerk logs in inside it (the OAuth2 password flow)
and its calls carry that token. The shared ES modules it imports (the bus client,
the refusals in Chinese) are served from ``/assets/js/``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from services.assets import VENDOR_DIR, served_files
from services.engine.core.errors import NotFound
from services.engine.core.problems import problem_responses
from services.engine.deps import SessionDep
from services.engine.pages import CSS, JS, hall_page, page_file

router = APIRouter(tags=["pages"])

STATIC = Path(__file__).resolve().parent / "static"
SHARED = Path(__file__).resolve().parents[1] / "static" / "js"
ASSETS = {"console.js": JS, "console.css": CSS}


@lru_cache
def shared_modules() -> frozenset[str]:
    return frozenset(p.name for p in SHARED.glob("*.js"))


@router.get(
    "/console/{hall}",
    response_class=HTMLResponse,
    responses=problem_responses(404),
)
async def console_page(hall: str, session: SessionDep) -> HTMLResponse:
    """The window console of a hall: log in with a staff account, pick the window."""
    return await hall_page(session, hall, STATIC / "console.html")


@router.get("/console/assets/{name}", include_in_schema=False)
async def console_asset(name: str) -> FileResponse:
    return page_file(STATIC, ASSETS, name)


@router.get("/assets/js/{name}", include_in_schema=False)
async def shared_module(name: str) -> FileResponse:
    """An ES module the engine's pages share (bus client, refusals in Chinese)."""
    if name not in shared_modules():
        raise NotFound(f"no shared module {name!r}")
    return FileResponse(
        SHARED / name,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/assets/vendor/{name}", include_in_schema=False)
async def vendor_file(name: str) -> FileResponse:
    """A third-party front-end file fetched at install time (services/assets.py)."""
    if name not in served_files():
        raise NotFound(f"no front-end file {name!r} (run `jiaohao assets`)")
    media = (
        "text/javascript; charset=utf-8" if name.endswith(".js") else "text/plain; charset=utf-8"
    )
    return FileResponse(
        VENDOR_DIR / name,
        media_type=media,
        headers={"Cache-Control": "public, max-age=86400"},
    )
