"""The window console page (软件呼叫器): ``/console/{hall}``, with its own files.

The page holds no secret: the clerk logs in inside it (the OAuth2 password flow)
and its calls carry that token. The shared ES modules it imports are served by
``pages.py`` from ``/assets/js/``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from services.engine.core.problems import problem_responses
from services.engine.deps import SessionDep
from services.engine.pages import CSS, JS, hall_page, page_file

router = APIRouter(tags=["pages"])

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"console.js": JS, "console.css": CSS}


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
