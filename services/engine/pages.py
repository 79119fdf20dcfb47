"""The staff pages' common serving: a hall's page from its template, its own files.

The window console, the manager's dashboard, the bad-review cases and the statistics
are each one HTML template with a script and a stylesheet, served by the engine from
the package (no CDN). The pages hold no secret: staff log in inside them
(``/assets/js/session.js``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.assets import VENDOR_DIR, served_files
from services.engine.core.errors import NotFound
from services.engine.halls.service import get_hall

STAFF_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
}
JS = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
# The ES modules every page shares: the bus client, the login, refusals in Chinese.
SHARED = Path(__file__).resolve().parent / "static" / "js"

# The files the pages share: /assets/js/ (ours), /assets/vendor/ (fetched at install).
router = APIRouter(tags=["pages"])


@lru_cache
def _template(path: Path) -> str:
    return path.read_text(encoding="utf-8")


async def hall_page(session: AsyncSession, hall: str, template: Path) -> HTMLResponse:
    """A hall's page: its code, name and time zone put into the template (escaped);
    ``not_found`` for an unknown hall."""
    found = await get_hall(session=session, code=hall)
    await session.commit()
    page = (
        _template(template)
        .replace("{{hall_code}}", html.escape(found.code))
        .replace("{{hall_name}}", html.escape(found.name))
        .replace("{{timezone}}", html.escape(found.timezone))
    )
    return HTMLResponse(page, headers=STAFF_PAGE_HEADERS)


def page_file(folder: Path, files: Mapping[str, str], name: str) -> FileResponse:
    """One of a page's own files (``files``: name -> media type); nothing else."""
    if name not in files:
        raise NotFound(f"no page file {name!r}")
    return FileResponse(
        folder / name, media_type=files[name], headers={"Cache-Control": "no-cache"}
    )


@lru_cache
def shared_modules() -> frozenset[str]:
    return frozenset(p.name for p in SHARED.glob("*.js"))


@router.get("/assets/js/{name}", include_in_schema=False)
async def shared_module(name: str) -> FileResponse:
    """An ES module the engine's pages share."""
    return page_file(SHARED, dict.fromkeys(shared_modules(), JS), name)


@router.get("/assets/vendor/{name}", include_in_schema=False)
async def vendor_file(name: str) -> FileResponse:
    """A third-party front-end file fetched at install time (services/assets.py)."""
    if name not in served_files():
        raise NotFound(f"no front-end file {name!r} (run `jiaohao assets`)")
    media = JS if name.endswith(".js") else "text/plain; charset=utf-8"
    return FileResponse(
        VENDOR_DIR / name, media_type=media, headers={"Cache-Control": "public, max-age=86400"}
    )
