"""The manager's page of bad-review cases (差评工单): ``/reviews/{hall}``, and the clerk's
``/reviews/{hall}/mine`` (我的评价), with their files.

The page holds no secret: the manager logs in inside it and its calls carry that
token; the shared modules (login, refusals in Chinese) come from ``/assets/js/``.
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
ASSETS = {"reviews.js": JS, "reviews.css": CSS, "mine.js": JS, "mine.css": CSS}


@router.get("/reviews/{hall}", response_class=HTMLResponse, responses=problem_responses(404))
async def cases_page(hall: str, session: SessionDep) -> HTMLResponse:
    """差评工单: the case list and a case with its timeline, for the hall's managers."""
    return await hall_page(session, hall, STATIC / "reviews.html")


@router.get("/reviews/{hall}/mine", response_class=HTMLResponse, responses=problem_responses(404))
async def my_reviews_page(hall: str, session: SessionDep) -> HTMLResponse:
    """我的评价: a clerk's own ratings and bad-review cases, and the appeal (申诉); the
    window console's login (same tab) carries over."""
    return await hall_page(session, hall, STATIC / "mine.html")


@router.get("/reviews-assets/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    return page_file(STATIC, ASSETS, name)
