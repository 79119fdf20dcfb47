"""/docs and /redoc work on a hall's closed network: every file they need is the engine's.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a network with no way
out they stay blank (and /docs is the README's first step). Here the files come from
an installed package and are served by the engine; in Chromium, /docs lists the
endpoints and /redoc renders, and no request goes anywhere but the engine.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, require_browser
from tests.helpers.processes import EngineProcess, start

ASSET = re.compile(r"""(?:src|href)=['"]([^'"]+)['"]""")
# url(...) in the pages' own inline styles, if any.
CSS_URL = re.compile(r"""url\(['"]?([^'")]+)""")


def _references(html: str) -> list[str]:
    return ASSET.findall(html) + CSS_URL.findall(html)


@pytest.mark.parametrize(
    ("page", "script"),
    [
        ("/docs", "/docs/assets/swagger-ui-bundle.js"),
        ("/redoc", "/docs/assets/redoc.standalone.js"),
    ],
)
async def test_the_pages_name_only_the_engines_own_files(
    client: httpx.AsyncClient, page: str, script: str
) -> None:
    answer = await client.get(page)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in answer.text
    references = _references(answer.text)
    assert script in references, references
    for reference in references:
        assert reference.startswith("/"), f"{page} loads {reference} from elsewhere"
        served = await client.get(reference)
        assert served.status_code == 200, reference
    # The OpenAPI document is the engine's too, and Swagger UI sends it to no validator.
    assert "'/openapi.json'" in answer.text or '"/openapi.json"' in answer.text
    if page == "/docs":
        assert '"validatorUrl": null' in answer.text
    # Whatever the scripts themselves name (ReDoc's logo), the browser fetches nothing else.
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy


async def test_the_assets_are_served_with_their_types(client: httpx.AsyncClient) -> None:
    for name, kind in (
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("redoc.standalone.js", "javascript"),
        ("favicon.png", "image/png"),
    ):
        answer = await client.get(f"/docs/assets/{name}")
        assert answer.status_code == 200 and kind in answer.headers["content-type"], name
        assert len(answer.content) > 1000
    assert (await client.get("/docs/assets/../../pyproject.toml")).status_code == 404
    assert (await client.get("/docs/oauth2-redirect")).status_code == 200


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.mark.browser
async def test_docs_and_redoc_render_in_chromium_with_no_request_leaving_the_engine(
    sqlite_url: str, tmp_path: Path, chromium: Any
) -> None:
    engine = EngineProcess(sqlite_url, tmp_path, "engine")
    await start(engine)
    try:
        async with httpx.AsyncClient() as http:
            spec = (await http.get(f"{engine.base_url}/openapi.json")).json()
        context = await chromium.new_context(locale="zh-CN")
        requested: list[str] = []
        elsewhere: list[str] = []

        async def only_the_engine(route: Any) -> None:
            url = route.request.url
            requested.append(url)
            if urlsplit(url).hostname != "127.0.0.1":
                elsewhere.append(url)
                await route.abort()
            else:
                await route.continue_()

        await context.route("**/*", only_the_engine)
        page = await context.new_page()
        await page.goto(f"{engine.base_url}/docs")
        await page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        shown = {
            text.strip().replace("\u200b", "")
            for text in await page.locator(".opblock-summary-path").all_inner_texts()
        }
        paths = set(spec["paths"])
        assert paths <= shown, sorted(paths - shown)
        assert "/api/v1/halls/{hall}/tickets" in shown
        assert "jiaohao ticket engine" in await page.locator(".info .title").first.inner_text()
        assert f"{engine.base_url}/docs/assets/swagger-ui-bundle.js" in requested

        await page.goto(f"{engine.base_url}/redoc")
        # ReDoc draws its menu of operations from the document.
        await page.wait_for_selector("[role=menuitem], li[data-item-id]", timeout=30_000)
        assert "jiaohao ticket engine" in await page.locator("h1").first.inner_text()
        assert f"{engine.base_url}/docs/assets/redoc.standalone.js" in requested
        assert elsewhere == [], f"requests that left the engine: {elsewhere}"
        await context.close()
    finally:
        engine.stop()
