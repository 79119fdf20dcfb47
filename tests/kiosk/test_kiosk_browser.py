"""The kiosk's touch page in headless Chromium, against real processes: the engine
(``jiaohao serve`` on a temp SQLite database set up by the CLI), the kiosk program
(``jiaohao-kiosk``) and a simulated ESC/POS printer on a pseudo-terminal.

The tests share one hall and run in file order; each leaves the printer and the
engine as it found them.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from drivers.simulators.printer import SimulatedPrinter
from services.engine.partners import signing
from tests.helpers import ROOT
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, require_browser
from tests.helpers.net import local_path
from tests.helpers.waiting import wait_until
from tests.kiosk.harness import NOT_YET, Engine, KioskProcess, kiosk_hall_file

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "tests" / "artifacts"
HALL = "kioskhall"
PIN = "2468"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


class Hall:
    """Everything a test needs: the processes, the printer, the kiosk's token."""

    def __init__(self, engine: Engine, kiosk: KioskProcess, printer: SimulatedPrinter, token: str):
        self.engine = engine
        self.kiosk = kiosk
        self.printer = printer
        self.token = token

    def api(self, method: str, tail: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.engine.base_url}/api/v1/halls/{HALL}{tail}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
            **kwargs,
        )

    def printed(self, count: int, within: float = 10.0) -> Any:
        assert self.printer.wait_for(lambda: len(self.printer.tickets) >= count, within), (
            f"printer got {len(self.printer.tickets)} tickets, expected {count}\n{self.kiosk.log()}"
        )
        return self.printer.tickets[count - 1]

    def printer_health(self) -> dict[str, Any] | None:
        reporters = self.api("GET", "/devices").json()["reporters"]
        for reporter in reporters:
            for device in reporter["devices"]:
                if device["key"] == "printer":
                    return dict(device)
        return None


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Hall]:
    workdir = tmp_path_factory.mktemp("kiosk")
    engine = Engine(workdir, kiosk_hall_file(workdir / "hall.toml", HALL))
    token = engine.set_up(HALL)
    engine.start()
    printer = SimulatedPrinter(name="kiosk", link=str(workdir / "printer0"))
    printer.start()
    kiosk = KioskProcess(workdir, engine.base_url, token, str(workdir / "printer0"), PIN)
    try:
        kiosk.start()
        yield Hall(engine, kiosk, printer, token)
    finally:
        kiosk.stop()
        printer.stop()
        engine.stop()


@pytest.fixture
def page(browser: Any, hall: Hall) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1080, "height": 1920}, locale="zh-CN")
    page = context.new_page()
    page.goto(hall.kiosk.base_url)
    page.locator('button[data-service="business"]:not([disabled])').wait_for(timeout=10_000)
    try:
        yield page
    finally:
        context.close()


def dialog_text(page: Any) -> str:
    page.locator("#overlay:not([hidden])").wait_for(timeout=10_000)
    text: str = page.locator("#dialog").inner_text()
    return text


def wait_dialog(page: Any, title: str, within_ms: int = 15_000) -> str:
    page.locator("#dialog-title", has_text=title).wait_for(timeout=within_ms)
    return dialog_text(page)


# ---------------------------------------------------------------------- tests


def test_a_press_prints_the_issued_ticket_with_its_status_qr(hall: Hall, page: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    button = page.locator('button[data-service="business"]')
    assert button.locator(".name").inner_text() == "企业开办"
    before = int(button.locator(".count").inner_text())
    page.screenshot(path=str(ARTIFACTS / "kiosk-portrait-1080x1920.png"))
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.screenshot(path=str(ARTIFACTS / "kiosk-landscape-1920x1080.png"))
    page.set_viewport_size({"width": 1080, "height": 1920})

    # Waiting counts come live from the hall bus (polling is only the fallback).
    hall.kiosk.wait_for(lambda h: h["bus"] == "live", 15)
    already = len(hall.printer.tickets)
    button.click()
    text = wait_dialog(page, "取号成功")
    shown = page.locator("#ticket-number").inner_text()
    assert "请取走号票" in text and "前方还有" in text
    page.screenshot(path=str(ARTIFACTS / "kiosk-ticket-taken-1080x1920.png"))

    printed = hall.printed(already + 1)
    # The number the engine issued is the one printed, in large type, with the status QR.
    issued = hall.api("GET", "/tickets", params={"number": shown}).json()["tickets"]
    assert len(issued) == 1 and issued[0]["number"] == shown and issued[0]["source"] == "kiosk"
    assert shown in printed.text and "企业开办" in printed.text
    assert "自助取号测试中心" in printed.text
    assert printed.qr_codes == [issued[0]["status_url"]]
    assert printed.partial_cut
    status = httpx.get(hall.engine.base_url + local_path(printed.qr_codes[0]), timeout=10)
    assert status.status_code == 200 and shown in status.text and "等候中" in status.text

    # The waiting count on the button follows the queue: with the bus live the kiosk
    # does not poll /queues for 30 s, so this can only come from the bus.
    page.locator('button[data-service="business"] .count', has_text=str(before + 1)).wait_for(
        timeout=5_000
    )
    page.locator("#dialog button.ok").click()
    assert page.locator("#overlay").is_hidden()


def test_out_of_hours_and_used_up_services_are_refused_clearly(hall: Hall, page: Any) -> None:
    already = len(hall.printer.tickets)
    night = page.locator('button[data-service="night"]')
    assert "closed" in (night.get_attribute("class") or "")
    assert night.locator(".state").inner_text() == "明天 09:00 开始办理"
    night.click()
    text = wait_dialog(page, "夜间服务现在不在办理时间")
    assert "明天 09:00 开始办理" in text
    page.screenshot(path=str(ARTIFACTS / "kiosk-out-of-hours-1080x1920.png"))
    page.locator("#dialog button.ok").click()

    estate = page.locator('button[data-service="estate"]')
    assert estate.locator(".state").inner_text() == "号已取完"
    estate.click()
    text = wait_dialog(page, "号已取完")
    assert "可直接到窗口咨询" in text
    page.locator("#dialog button.ok").click()
    assert len(hall.printer.tickets) == already  # nothing was printed
    for service in ("night", "estate"):
        queue = next(
            q for q in hall.api("GET", "/queues").json()["queues"] if q["service"] == service
        )
        assert queue["issued_today"] == 0, service


def test_paper_out_asks_for_staff_keeps_the_ticket_and_staff_reprint_it(
    hall: Hall, page: Any
) -> None:
    already = len(hall.printer.tickets)
    hall.printer.set_paper("out")
    try:
        page.locator('button[data-service="business"]').click()
        text = wait_dialog(page, "请联系工作人员")
        number = page.locator("#ticket-number").inner_text()
        assert "号票打印失败" in text and "补打" in text
        # The status link is still on the screen, as a QR code a phone can read.
        assert (
            page.locator("#dialog img.qr")
            .get_attribute("src")
            .startswith("data:image/svg+xml;base64,")
        )
        page.screenshot(path=str(ARTIFACTS / "kiosk-paper-out-1080x1920.png"))
        assert len(hall.printer.tickets) == already
        # The page says so, and so does the engine's device list.
        page.locator("#banner:not([hidden])", has_text="打印机缺纸").wait_for(timeout=5_000)
        assert "请联系工作人员" in page.locator("#banner").inner_text()
        health = wait_until(
            lambda: (h := hall.printer_health()) and h["status"] == "error" and h,
            10,
            "printer error reported to the engine",
            log=hall.kiosk.log,
            ignore=NOT_YET,
        )
        assert health["reason"] == "paper out"
        kept = hall.kiosk.unprinted_file()
        assert [t["number"] for t in kept] == [number]
        assert kept[0]["status_url"].startswith(hall.engine.base_url + "/t/")
        page.locator("#dialog button.ok").click()
    finally:
        hall.printer.set_paper("ok")

    # Staff: a wrong PIN opens nothing; the right one shows the unprinted ticket.
    page.locator("#staff-button").click()
    for digit in "1111":
        page.locator(f'#dialog .keys button[data-key="{digit}"]').click()
    page.locator("#pin-submit").click()
    page.locator("#pin-result", has_text="密码错误").wait_for(timeout=5_000)
    for digit in PIN:
        page.locator(f'#dialog .keys button[data-key="{digit}"]').click()
    page.locator("#pin-submit").click()
    page.locator(f'#unprinted li[data-number="{number}"]').wait_for(timeout=5_000)
    page.screenshot(path=str(ARTIFACTS / "kiosk-staff-1080x1920.png"))

    # Reprint by number, typed on the staff keypad (letters and digits as they hear them).
    prefix, digits = number[0], str(int(number[1:]))
    for key in prefix + digits:
        page.locator(f'#dialog .keys button[data-key="{key}"]').click()
    page.locator("#reprint-submit").click()
    page.locator("#staff-result.good", has_text=f"{number} 已补打").wait_for(timeout=15_000)
    printed = hall.printed(already + 1)
    assert number in printed.text and "补打" in printed.text
    issued = hall.api("GET", "/tickets", params={"number": number}).json()["tickets"]
    assert printed.qr_codes == [issued[-1]["status_url"]]
    assert hall.kiosk.unprinted_file() == []
    assert page.locator("#unprinted").count() == 0
    wait_until(
        lambda: (h := hall.printer_health()) and h["status"] == "online",
        15,
        "printer back online at the engine",
        log=hall.kiosk.log,
        ignore=NOT_YET,
    )
    page.locator("#dialog-actions button", has_text="退出").click()
    page.locator("#banner[hidden]").wait_for(state="attached", timeout=10_000)


def _book(hall: Hall, key_id: str, secret: str) -> dict[str, Any]:
    """Book the next slot of 企业开办 through the signed partner API (the mini-program)."""

    def signed(method: str, tail: str, payload: Any = None) -> httpx.Response:
        path = f"/api/v1/partner/halls/{HALL}{tail}"
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = signing.signed_headers(
            key_id=key_id,
            secret=secret,
            method=method,
            path=path,
            body=body,
            timestamp=int(time.time()),
            nonce=secrets.token_urlsafe(12),
        )
        if body:
            headers["Content-Type"] = "application/json"
        return httpx.request(method, hall.engine.base_url + path, content=body, headers=headers)

    services = signed("GET", "/services").json()["services"]
    days = next(s for s in services if s["service"] == "business")["bookable_dates"]
    for day in days:
        slots = signed("GET", f"/services/business/slots?date={day}").json()["slots"]
        for slot in slots:
            if slot["bookable"]:
                booked = signed(
                    "POST",
                    "/bookings",
                    {
                        "service": "business",
                        "start": slot["start"],
                        "id_number": "11010519491231002X",
                    },
                )
                assert booked.status_code == 201, booked.text
                return dict(booked.json())
    raise AssertionError("no bookable slot")


def test_a_scanned_booking_code_checks_in_and_prints(hall: Hall, page: Any) -> None:
    key_id, secret = hall.engine.add_partner(HALL)
    booking = _book(hall, key_id, secret)
    already = len(hall.printer.tickets)
    # The keyboard-wedge scanner types the QR payload and Enter into the page.
    page.keyboard.type(booking["qr_payload"], delay=5)
    page.keyboard.press("Enter")
    text = wait_dialog(page, "预约签到成功")
    number = page.locator("#ticket-number").inner_text()
    printed = hall.printed(already + 1)
    assert number in printed.text and "请取走号票" in text
    ticket = hall.api("GET", "/tickets", params={"number": number}).json()["tickets"][0]
    assert ticket["priority"] == "appointment" and ticket["source"] == "booking"
    assert printed.qr_codes == [ticket["status_url"]]
    page.locator("#dialog button.ok").click()

    # The same code again: already checked in, nothing printed.
    page.locator("#checkin-button").click()
    for key in booking["code"]:
        page.locator(f'#dialog .keys button[data-key="{key}"]').click()
    page.locator("#checkin-submit").click()
    wait_dialog(page, "该预约已签到")
    assert len(hall.printer.tickets) == already + 1


def _banner_within(page: Any, kind: str, seconds: float) -> float:
    start = time.monotonic()
    page.locator(f'#banner[data-kind="{kind}"]:not([hidden])').wait_for(timeout=int(seconds * 1000))
    return time.monotonic() - start


def test_engine_unreachable_shows_within_3_seconds_and_recovers(hall: Hall, page: Any) -> None:
    engine = hall.engine
    assert engine.process is not None
    # A hung engine (process stopped): only the probe's timeout can tell.
    os.kill(engine.process.pid, signal.SIGSTOP)
    try:
        took = _banner_within(page, "engine", 3.0)
        assert "系统连接中断" in page.locator("#banner").inner_text()
        assert page.locator('button[data-service="business"]').is_disabled()
    finally:
        os.kill(engine.process.pid, signal.SIGCONT)
    page.locator('button[data-service="business"]:not([disabled])').wait_for(timeout=15_000)
    assert page.locator("#banner").is_hidden()
    print(f"hung engine shown after {took:.2f}s")

    # A stopped engine: shown within 3 s of the stop, gone once it is back.
    start = time.monotonic()
    engine.stop()
    page.locator('#banner[data-kind="engine"]:not([hidden])').wait_for(
        timeout=max(1, int((3.0 - (time.monotonic() - start)) * 1000))
    )
    took = time.monotonic() - start
    assert took < 3.0
    page.screenshot(path=str(ARTIFACTS / "kiosk-engine-down-1080x1920.png"))
    engine.start()
    page.locator('button[data-service="business"]:not([disabled])').wait_for(timeout=15_000)
    assert page.locator("#banner").is_hidden()
    print(f"stopped engine shown after {took:.2f}s")

    # And it works again: a press prints.
    already = len(hall.printer.tickets)
    page.locator('button[data-service="business"]').click()
    wait_dialog(page, "取号成功")
    assert page.locator("#ticket-number").inner_text() in hall.printed(already + 1).text
