"""The kiosk program's working parts against the real engine app (in-process, on both
databases) and a simulated printer on a pseudo-terminal; its pure parts on their own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from drivers.config import Connection
from drivers.simulators.printer import SimulatedPrinter
from kiosk_client.config import (
    KioskConfigError,
    build_config,
    load_file,
    printer_config,
)
from kiosk_client.engine import EngineClient
from kiosk_client.kiosk import OFFLINE, Kiosk
from kiosk_client.server import create_app
from kiosk_client.texts import check_in_refusal, issue_refusal, printer_problem, when_text
from kiosk_client.unprinted import UnprintedStore, UnprintedTicket, same_number
from tests.helpers.api import API
from tests.helpers.app import transport_of
from tests.helpers.halls import Hall
from tests.helpers.kiosk import kiosk_config, running_kiosk
from tests.helpers.kiosk import simulated_printer as printer_at
from tests.helpers.net import free_port
from tests.helpers.waiting import until

CST = timezone(timedelta(hours=8))


# ---------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/dev/ttyUSB0", {"connection": Connection.SERIAL, "port": "/dev/ttyUSB0"}),
        (
            "/dev/ttyS1?baudrate=19200",
            {"connection": Connection.SERIAL, "port": "/dev/ttyS1", "baudrate": 19200},
        ),
        ("serial:/dev/ttyS0", {"connection": Connection.SERIAL, "port": "/dev/ttyS0"}),
        ("COM3", {"connection": Connection.SERIAL, "port": "COM3"}),
        ("usb:/dev/usb/lp0", {"connection": Connection.USB, "device": "/dev/usb/lp0"}),
        ("usb:///dev/usb/lp1", {"connection": Connection.USB, "device": "/dev/usb/lp1"}),
        (
            "socket://10.0.0.5:9100",
            {"connection": Connection.TCP, "host": "10.0.0.5", "tcp_port": 9100},
        ),
        (
            "tcp://printer.local",
            {"connection": Connection.TCP, "host": "printer.local", "tcp_port": 9100},
        ),
        (
            "tcp://10.0.0.5:9200",
            {"connection": Connection.TCP, "host": "10.0.0.5", "tcp_port": 9200},
        ),
    ],
)
def test_printer_addresses_map_to_driver_config(url: str, expected: dict[str, Any]) -> None:
    config = printer_config(url)
    for key, value in expected.items():
        assert getattr(config, key) == value, key
    assert config.status_query


@pytest.mark.parametrize(
    "url", ["", "socket://:9100", "tcp://host:notaport", "usb:", "/dev/ttyS0?baudrate=fast"]
)
def test_bad_printer_addresses_are_refused(url: str) -> None:
    with pytest.raises(KioskConfigError):
        printer_config(url)


def test_secrets_come_from_the_environment_and_are_checked(tmp_path: Path) -> None:
    env = {"JIAOHAO_KIOSK_TOKEN": "jhd_secret", "JIAOHAO_KIOSK_STAFF_PIN": "1357"}
    config = build_config({"engine": "http://e:8000/", "printer": "tcp://p"}, env)
    assert config.token == "jhd_secret" and config.staff_pin == "1357"
    assert config.engine_url == "http://e:8000" and config.hall is None and config.port == 8080
    with pytest.raises(KioskConfigError, match="token"):
        build_config({"engine": "http://e", "printer": "tcp://p"}, {})
    with pytest.raises(KioskConfigError, match="PIN"):
        build_config({"engine": "http://e", "printer": "tcp://p", "staff_pin": "12"}, env)
    with pytest.raises(KioskConfigError, match="--printer"):
        build_config({"engine": "http://e"}, env)
    with pytest.raises(KioskConfigError, match="http"):
        build_config({"engine": "e:8000", "printer": "tcp://p"}, env)

    path = tmp_path / "kiosk.toml"
    path.write_text(
        'engine = "http://e:8000"\nprinter = "usb:/dev/usb/lp0"\nhall = "demo"\n'
        "[layout]\nnotes = ['过号请重新取号', '请保管好号票']\nqr_caption = '扫码看进度'\n",
        encoding="utf-8",
    )
    config = build_config(load_file(path), env)
    assert config.hall == "demo" and config.printer.connection is Connection.USB
    assert config.printer.layout.notes == ("过号请重新取号", "请保管好号票")
    assert config.printer.layout.qr_caption == "扫码看进度"
    path.write_text('engine = "http://e"\nprinterr = "x"\n', encoding="utf-8")
    with pytest.raises(KioskConfigError, match="printerr"):
        load_file(path)


# ---------------------------------------------------------------------- words


def test_when_text_on_the_halls_clock() -> None:
    now = datetime(2025, 3, 4, 16, 0, tzinfo=CST)  # a Tuesday
    assert when_text(datetime(2025, 3, 4, 17, 30, tzinfo=CST), now) == "今天 17:30"
    assert when_text(datetime(2025, 3, 5, 8, 30, tzinfo=CST), now) == "明天 08:30"
    assert when_text(datetime(2025, 3, 6, 9, 0, tzinfo=CST), now) == "后天 09:00"
    assert when_text(datetime(2025, 3, 8, 9, 0, tzinfo=CST), now) == "3月8日（周六）09:00"
    # "now" in UTC is moved to the hall's offset first: 23:30 UTC is already tomorrow there.
    late = datetime(2025, 3, 4, 23, 30, tzinfo=UTC)
    assert when_text(datetime(2025, 3, 5, 9, 0, tzinfo=CST), late) == "今天 09:00"


def test_refusals_in_the_halls_words() -> None:
    now = datetime(2025, 3, 4, 20, 0, tzinfo=CST)
    closed = issue_refusal(
        "outside_service_hours", {"next_opening": "2025-03-05T08:30:00+08:00"}, "社保医保", now
    )
    assert closed.title == "社保医保现在不在办理时间"
    assert closed.lines[0] == "明天 08:30 开始办理"
    assert (
        issue_refusal("outside_service_hours", {}, "夜间", now).lines[0] == "近期没有安排办理时间"
    )
    used_up = issue_refusal("quota_exhausted", {}, "不动产登记", now)
    assert "号已取完" in used_up.title and used_up.lines == ["可直接到窗口咨询"]
    assert issue_refusal("something_new", {}, "x", now).lines == ["请联系工作人员"]
    early = check_in_refusal("check_in_too_early", {"opens_at": "2025-03-04T20:30:00+08:00"}, now)
    assert early.lines == ["请于 今天 20:30 之后签到"]
    assert check_in_refusal("booking_not_active", {"booking_status": "checked_in"}, now).title == (
        "该预约已签到"
    )
    assert check_in_refusal("not_found", {}, now).title == "未找到该预约"
    assert printer_problem("error", "paper out") == "缺纸"
    assert printer_problem("error", "paper out, cover open") == "缺纸、机盖未关好"
    assert printer_problem("error", "port unavailable: [Errno 2]") == "未连接"
    assert printer_problem("offline", "no answer to status request") == "无响应"


# ---------------------------------------------------------------------- unprinted list


def _unprinted(number: str, ticket_id: int, day: str = "2025-03-04") -> UnprintedTicket:
    return UnprintedTicket(
        ticket_id=ticket_id,
        number=number,
        service="business",
        service_name="企业开办",
        business_date=day,
        issued_at=f"{day}T01:00:00Z",
        waiting_ahead=2,
        estimated_wait_minutes=None,
        status_url="http://e/t/h/1?s=x",
        reason="paper out",
        failed_at=f"{day}T01:00:01Z",
    )


def test_unprinted_list_survives_a_restart_and_matches_numbers_as_heard(tmp_path: Path) -> None:
    path = tmp_path / "data" / "unprinted.json"
    store = UnprintedStore(path)
    store.add(_unprinted("A023", 23))
    store.add(_unprinted("B007", 30, "2025-03-03"))
    again = UnprintedStore(path)
    assert [t.number for t in again.tickets()] == ["A023", "B007"]
    assert again.find("a23") is not None and again.find("A 023") is not None
    assert again.find("A24") is None
    assert same_number("A023", "a0023") and not same_number("A023", "B023")
    assert again.drop_before(date(2025, 3, 4)) == 1
    assert again.remove_number("a23") and not again.remove_number("a23")
    assert json.loads(path.read_text(encoding="utf-8")) == {"tickets": []}
    assert not list(path.parent.glob(".unprinted-*"))  # no temp files left behind

    path.write_text("{not json", encoding="utf-8")
    damaged = UnprintedStore(path)
    assert damaged.tickets() == []
    assert path.with_suffix(".damaged.json").exists()


# ---------------------------------------------------------------------- with the engine


@pytest.fixture
def simulated_printer(tmp_path: Path) -> Iterator[SimulatedPrinter]:
    with printer_at(tmp_path) as printer:
        yield printer


@pytest.fixture
async def kiosk(
    app: Any, hall: Hall, tmp_path: Path, simulated_printer: SimulatedPrinter
) -> AsyncIterator[Kiosk]:
    async with running_kiosk(app, hall, tmp_path) as kiosk:
        yield kiosk


async def printer_at_engine(client: httpx.AsyncClient, hall: Hall) -> tuple[str, str | None]:
    """The kiosk's printer as the engine's device list shows it."""
    devices = (await client.get(f"{API}/testhall/devices", headers=hall.h("kiosk"))).json()
    (reporter,) = [r for r in devices["reporters"] if r["name"] == "testhall-kiosk"]
    assert reporter["status"] == "online"  # the kiosk's own last contact is recent
    (printer,) = reporter["devices"]
    assert printer["key"] == "printer" and printer["kind"] == "printer"
    return printer["status"], printer["reason"]


async def test_take_ticket_prints_what_the_engine_issued(
    kiosk: Kiosk, simulated_printer: SimulatedPrinter, client: httpx.AsyncClient, hall: Hall
) -> None:
    assert kiosk.engine.hall == "testhall"  # found from the token alone
    result = await kiosk.take_ticket("business")
    assert result["ok"] and result["ticket"]["printed"] and result["title"] == "取号成功"
    number = result["ticket"]["number"]
    assert simulated_printer.wait_for(lambda: len(simulated_printer.tickets) == 1)
    printed = simulated_printer.tickets[0]
    found = await client.get(
        f"{API}/testhall/tickets", params={"number": number}, headers=hall.h("kiosk")
    )
    ticket = found.json()["tickets"][0]
    assert printed.text[:3] == ["测试大厅", "企业开办", number]
    assert printed.qr_codes == [ticket["status_url"]]
    assert "qr_image" not in result["ticket"]  # only shown on screen when the paper failed
    await until(lambda: kiosk.services["business"]["waiting"] == 1)


async def test_refusals_reach_the_page_in_the_halls_words(
    kiosk: Kiosk, simulated_printer: SimulatedPrinter
) -> None:
    night = await kiosk.take_ticket("night")  # no hours at all in the test hall
    assert not night["ok"] and night["title"] == "夜间服务现在不在办理时间"
    assert night["lines"][0] == "近期没有安排办理时间"
    for _ in range(3):
        assert (await kiosk.take_ticket("estate"))["ok"]
    used_up = await kiosk.take_ticket("estate")  # daily quota 3
    assert not used_up["ok"] and used_up["title"] == "不动产登记：号已取完"
    await until(lambda: kiosk.state()["services"][1]["sold_out"])
    assert len(simulated_printer.tickets) == 3


async def test_paper_out_keeps_the_ticket_tells_the_engine_and_reprint_brings_it_back(
    kiosk: Kiosk, simulated_printer: SimulatedPrinter, client: httpx.AsyncClient, hall: Hall
) -> None:
    simulated_printer.set_paper("out")
    result = await kiosk.take_ticket("business")
    assert result["ok"] and not result["ticket"]["printed"]
    assert "请联系工作人员" in result["title"]
    assert result["ticket"]["qr_image"].startswith("data:image/svg+xml;base64,")
    number = result["ticket"]["number"]
    assert [t.number for t in kiosk.unprinted.tickets()] == [number]
    assert kiosk.state()["printer"] == {
        "state": "error",
        "ok": False,
        "problem": "缺纸",
        "warning": None,
    }
    assert await kiosk.report_health()
    assert await printer_at_engine(client, hall) == ("error", "paper out")
    # Reprinting while the paper is still out fails and keeps the ticket on the list.
    failed = await kiosk.reprint(number)
    assert not failed["ok"] and failed["title"] == "补打失败"
    assert len(kiosk.unprinted) == 1 and simulated_printer.tickets == []

    simulated_printer.set_paper("ok")
    done = await kiosk.reprint(number.lower().replace("00", "", 1))  # "a1" for A001
    assert done["ok"], done
    assert simulated_printer.wait_for(lambda: len(simulated_printer.tickets) == 1)
    assert number in simulated_printer.tickets[0].text
    assert "补打" in simulated_printer.tickets[0].text
    assert len(kiosk.unprinted) == 0
    assert await kiosk.report_health()
    assert await printer_at_engine(client, hall) == ("online", None)

    missing = await kiosk.reprint("A999")
    assert not missing["ok"] and missing["title"] == "今天没有 A999 号"
    staff = hall.h("staff")
    await client.post(f"{API}/testhall/windows/3/open", headers=staff)
    await client.post(f"{API}/testhall/windows/3/call-next", headers=staff)
    await client.post(f"{API}/testhall/windows/3/finish", headers=staff)
    finished = await kiosk.reprint(number)
    assert not finished["ok"] and finished["title"] == f"{number} 号已办结"
    assert len(simulated_printer.tickets) == 1


async def test_engine_unreachable_is_shown_and_nothing_is_issued(
    tmp_path: Path, simulated_printer: SimulatedPrinter
) -> None:
    config = kiosk_config(tmp_path, "jhd_whatever", engine=f"http://127.0.0.1:{free_port()}")
    kiosk = Kiosk(config)
    await kiosk.start()
    try:
        await until(lambda: kiosk.engine_state == OFFLINE)
        state = kiosk.state()
        assert state["engine"]["message"]["title"] == "系统连接中断"
        result = await kiosk.take_ticket("business")
        assert not result["ok"] and result["title"] == "系统连接中断"
        assert (await kiosk.check_in("ABCD2345"))["title"] == "系统连接中断"
        assert simulated_printer.tickets == []
    finally:
        await kiosk.stop()


async def test_a_token_of_no_use_says_so(
    app: Any, hall: Hall, tmp_path: Path, simulated_printer: SimulatedPrinter
) -> None:
    config = kiosk_config(tmp_path, "jhd_not_a_token")
    engine = EngineClient(config.engine_url, config.token, transport=transport_of(app))
    kiosk = Kiosk(config, engine=engine)
    await kiosk.start()
    try:
        await until(lambda: kiosk.engine_state == "unauthorized")
        assert kiosk.state()["engine"]["message"]["lines"][0] == "取号机未获授权"
    finally:
        await kiosk.stop()


# ---------------------------------------------------------------------- the local server


async def test_staff_pin_origin_and_lockout(tmp_path: Path) -> None:
    config = kiosk_config(tmp_path, "jhd_x", engine=f"http://127.0.0.1:{free_port()}")
    kiosk = Kiosk(config)  # not started: these answers need neither engine nor printer
    app = create_app(kiosk)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080"
    ) as http:
        page = await http.get("/")
        assert page.status_code == 200 and "预约签到" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert (await http.get("/assets/kiosk.js")).status_code == 200
        assert (await http.get("/assets/secret.txt")).status_code == 404

        foreign = await http.post(
            "/api/tickets", json={"service": "business"}, headers={"Origin": "http://evil.example"}
        )
        assert foreign.status_code == 403
        assert (await http.post("/api/staff/unlock", json={"pin": "2468"})).json()["ok"]
        assert (await http.get("/api/staff/unprinted")).status_code == 403
        for _ in range(5):
            assert (await http.post("/api/staff/unlock", json={"pin": "0000"})).status_code == 403
        # Locked now, even for the right PIN.
        assert (await http.post("/api/staff/unlock", json={"pin": "2468"})).status_code == 429
        assert (
            await http.post(
                "/api/staff/reprint", json={"number": "A001"}, headers={"X-Staff-Pin": "2468"}
            )
        ).status_code == 429

    no_pin = Kiosk(kiosk_config(tmp_path / "b", "jhd_x", staff_pin=None))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(no_pin)), base_url="http://k"
    ) as http:
        assert (await http.post("/api/staff/unlock", json={"pin": "2468"})).status_code == 404
    await kiosk.engine.aclose()
    await no_pin.engine.aclose()


def test_command_line_refuses_an_incomplete_configuration(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiosk_client.cli import main

    monkeypatch.delenv("JIAOHAO_KIOSK_TOKEN", raising=False)
    monkeypatch.delenv("JIAOHAO_KIOSK_ENGINE", raising=False)
    assert main(["--printer", "usb:/dev/usb/lp0", "--token", "jhd_x"]) == 2
    assert "--engine is required" in capsys.readouterr().err
    assert main(["--engine", "http://e", "--printer", "usb:/dev/usb/lp0"]) == 2
    assert "token" in capsys.readouterr().err
