"""我的评价 in headless Chromium against a real engine process: a clerk logged in at the
window console opens their ratings and bad reviews (the login carries over), sees only
those the citizen has left behind (a fresh rating waits), files an appeal in words, and
the manager finds it on the case page. Screenshots at 1366x768 and 1280x800."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from services.engine.core.db import utcnow
from services.engine.evaluations.models import Evaluation
from services.engine.public.signing import ticket_signature
from services.engine.reviews.models import ReviewCase, ReviewStep
from services.engine.tickets.models import Ticket
from tests.helpers.api import API, act, issue
from tests.helpers.app import app_for, serving
from tests.helpers.browser import ARTIFACTS, chromium
from tests.helpers.cli import SECRETS
from tests.helpers.halls import Hall, seeded
from tests.helpers.pages import engine_process, log_in, watch_errors

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PHONE = "13912345678"


async def served(http: httpx.AsyncClient, hall: Hall, base: str) -> int:
    ticket = await issue(http, hall, base=base)
    for action in ("call-next", "start", "finish"):
        response = await act(http, hall, 1, action, who="staff", base=base)
        assert response.status_code == 200, response.text
    return int(ticket["id"])


async def an_hour_ago(url: str, ticket_ids: list[int]) -> None:
    """The citizens of these tickets left an hour ago: move their finish and rating back."""
    app = app_for(url)
    async with serving(app), app.state.sessionmaker() as session:
        back = utcnow() - timedelta(hours=1)
        await session.execute(
            update(Ticket).where(Ticket.id.in_(ticket_ids)).values(finished_at=back)
        )
        await session.execute(
            update(Evaluation).where(Evaluation.ticket_id.in_(ticket_ids)).values(created_at=back)
        )
        await session.execute(
            update(ReviewCase).where(ReviewCase.ticket_id.in_(ticket_ids)).values(opened_at=back)
        )
        await session.execute(update(ReviewStep).values(at=back))
        await session.commit()


async def test_a_clerk_reads_their_ratings_and_appeals(database_url: str, tmp_path: Path) -> None:
    hall = await seeded(database_url)
    async with engine_process(database_url, tmp_path) as engine:
        base = engine.base_url
        async with httpx.AsyncClient(timeout=10) as http:
            for action in ("sign-in", "open"):
                assert (await act(http, hall, 1, action, who="staff", base=base)).is_success
            good, bad, fresh = [await served(http, hall, base) for _ in range(3)]
            rate = f"{base}{API}/{hall.code}/tickets"
            r = await http.post(
                f"{rate}/{good}/evaluation", json={"level": 5}, headers=hall.h("gateway")
            )
            assert r.status_code == 201, r.text
            s = ticket_signature(SECRETS["JIAOHAO_SECRET_KEY"], hall.code, bad)
            r = await http.post(
                f"{base}/t/{hall.code}/{bad}/rate?s={s}",
                json={
                    "level": 2,
                    "reasons": ["等候时间长"],
                    "comment": "排队太久",
                    "callback_phone": PHONE,
                },
            )
            assert r.status_code == 201, r.text
            r = await http.post(
                f"{rate}/{fresh}/evaluation", json={"level": 3}, headers=hall.h("kiosk")
            )
            assert r.status_code == 201, r.text
            await an_hour_ago(database_url, [good, bad])
            cases = await http.get(
                f"{base}{API}/{hall.code}/reviews/cases", headers=hall.h("manager")
            )
            [case] = cases.json()

        async with chromium() as browser:
            desk = await browser.new_context(
                viewport={"width": 1366, "height": 768}, locale="zh-CN"
            )
            page = await desk.new_page()
            errors = watch_errors(page)
            # The clerk at the window console: signed in at window 1, the desk opens.
            await page.goto(f"{base}/console/{hall.code}")
            await log_in(page, hall, "staff")
            await page.wait_for_function("() => document.body.dataset.signedIn === 'true'")
            await page.screenshot(path=ARTIFACTS / "my-reviews-console-link.png")
            # 我的评价: the console's login carries over, no second login.
            await page.click("#my-reviews")
            await page.wait_for_url(f"**/reviews/{hall.code}/mine")
            await page.wait_for_function("() => window.jiaohao?.state.loads === 1")
            assert await page.evaluate("document.body.dataset.screen") == "mine"
            rows = await page.locator("#ratings tbody tr").all_inner_texts()
            # The two the citizens left behind, newest first (same minute: by id); the
            # fresh one is held back, its level nowhere.
            assert len(rows) == 2, rows
            assert any("不满意" in r and "排队太久" in r for r in rows), rows
            assert any("非常满意" in r for r in rows), rows
            assert "基本满意" not in "".join(rows)
            rule = await page.locator("#rule").inner_text()
            assert "满 30 分钟后才显示" in rule and "另有 1 条评价稍后显示" in rule
            summary = await page.locator("#summary").inner_text()
            assert "好评率\n50.00%" in summary
            card = page.locator(f"article.case[data-case='{case['id']}']")
            text = await card.inner_text()
            assert "待回访" in text and "整改期限" in text and "排队太久" in text
            assert "剩" in text and "工作日" in text
            whole = await page.locator("body").inner_text()
            assert PHONE not in whole and PHONE[-4:] not in whole
            await page.screenshot(path=ARTIFACTS / "my-reviews-1366x768.png")

            # An appeal needs a reason, said in Chinese; then it goes to 申诉复核.
            await card.locator("button[type=submit]").click()
            assert await card.locator(".error").inner_text() == "请填写申诉理由"
            await card.locator("textarea[name=reason]").fill("群众误按评价器，现场已确认满意")
            await card.locator("button[type=submit]").click()
            await page.wait_for_selector(
                f"article.case[data-case='{case['id']}'][data-state=appealing]"
            )
            assert "已提交申诉" in await page.locator("#status").inner_text()
            after = await page.locator(f"article.case[data-case='{case['id']}']").inner_text()
            assert "申诉复核中：群众误按评价器" in after
            assert await page.locator("form.appeal").count() == 0
            await page.set_viewport_size({"width": 1280, "height": 800})
            await page.screenshot(path=ARTIFACTS / "my-reviews-1280x800.png")
            # Nothing runs off the side at the window PCs' sizes.
            wide: int = await page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 1280
            # Back to the desk, still logged in and at the window.
            await page.click("#back")
            await page.wait_for_function("() => document.body.dataset.signedIn === 'true'")
            assert errors == [], errors

            # The manager sees the appeal on the case page.
            office = await browser.new_context(
                viewport={"width": 1366, "height": 768}, locale="zh-CN"
            )
            manager = await office.new_page()
            await manager.goto(f"{base}/reviews/{hall.code}")
            await log_in(manager, hall, "manager")
            await manager.wait_for_selector(f"tr[data-case='{case['id']}']")
            row = await manager.locator(f"tr[data-case='{case['id']}']").inner_text()
            assert "申诉复核中" in row
            await manager.locator(f"tr[data-case='{case['id']}']").click()
            await manager.wait_for_selector("#case[data-state=appealing]")
            facts = await manager.locator("#case").inner_text()
            assert "申诉中" in facts and "群众误按评价器" in facts and "申诉复核" in facts
            await manager.screenshot(path=ARTIFACTS / "my-reviews-manager-appeal.png")
