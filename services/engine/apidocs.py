"""/docs (Swagger UI) and /redoc (ReDoc) from files installed with the engine.

FastAPI's own pages load their scripts from a CDN: on a hall's closed network they
stay blank. The scripts and styles come from the ``fastapi-offline`` package and are
served under /docs/assets; the pages ask nothing of any other address (no fonts, no
favicon, no online validator).

Module-level endpoints, not closures over the app (FastAPI keeps endpoint functions
in a cache, which would keep every app built in a process alive).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS = Path(str(files("fastapi_offline") / "static"))
# Swagger UI would otherwise send the OpenAPI document to an online validator.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None, "persistAuthorization": True}
# The browser asks nothing of any other address: ReDoc's menu shows a logo from its
# makers' CDN, which this keeps from being fetched (the page works without it).
POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",  # each page starts its UI inline
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    )
)


def install(app: FastAPI) -> None:
    """Serve the two pages and their files (create the app with docs_url=redoc_url=None)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    for url, endpoint in (
        (DOCS_URL, swagger_ui),
        (OAUTH2_REDIRECT_URL, oauth2_redirect),
        (REDOC_URL, redoc),
    ):
        app.add_api_route(url, endpoint, methods=["GET"], include_in_schema=False)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


def _page(page: HTMLResponse) -> HTMLResponse:
    """The page marked zh-CN as far as ours goes (Swagger UI's own words are English),
    held to the engine's own address by its content security policy."""
    body = bytes(page.body).replace(b"<html>", b'<html lang="zh-CN">', 1)
    return HTMLResponse(body, headers={"Content-Security-Policy": POLICY})


async def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    return _page(
        get_swagger_ui_html(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=f"{request.app.title} · 接口文档 (Swagger UI)",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )
    )


async def oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


async def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    return _page(
        get_redoc_html(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=f"{request.app.title} · 接口文档 (ReDoc)",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
    )
