"""The kiosk's working parts: the engine link, the printer, the unprinted list, and the
state the touch page shows. The web layer (:mod:`.server`) only calls into this."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import io
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drivers.devices.printer import TicketPrinter
from drivers.errors import DeviceUnavailable, PrinterNotReady
from drivers.health import HealthState
from drivers.protocols.ticket import TicketContent

from .config import KioskConfig
from .engine import EngineClient, EngineRefused, EngineUnreachable
from .texts import (
    CALL_STAFF,
    ENGINE_DOWN,
    Message,
    check_in_refusal,
    issue_refusal,
    opens_text,
    printer_problem,
)
from .unprinted import UnprintedStore, UnprintedTicket

log = logging.getLogger("kiosk_client")
STOP_GRACE_SECONDS = 5.0

# Engine link states, as the page shows them.
CONNECTING, ONLINE, OFFLINE, UNAUTHORIZED = "connecting", "online", "offline", "unauthorized"
FINAL_STATUSES = {"done": "已办结", "cancelled": "已取消", "no_show": "已过号"}
PIN_TRIES = 5  # wrong PINs in a row before staff actions lock
PIN_LOCK_SECONDS = 60.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def qr_image(data: str) -> str:
    """The status link as an SVG QR code (a data: URI), shown on screen when the paper
    ticket failed, so a phone can still follow the queue."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


class Kiosk:
    def __init__(
        self,
        config: KioskConfig,
        *,
        engine: EngineClient | None = None,
        printer: TicketPrinter | None = None,
        bus_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.config = config
        self.engine = engine or EngineClient(
            config.engine_url,
            config.token,
            timeout=config.request_timeout,
            probe_timeout=config.probe_timeout,
        )
        self.engine.hall = config.hall
        self.printer = printer or TicketPrinter(config.printer)
        self.unprinted = UnprintedStore(config.unprinted_path)
        self._bus_factory = bus_factory
        self.engine_state = CONNECTING
        self.engine_error = ""
        self.hall: dict[str, Any] | None = None
        self.services: dict[str, dict[str, Any]] = {}
        self.bus_state = "off"
        self.health_reports = 0  # reports the engine accepted
        self.health_endpoint_missing = False
        self.version = 0
        self._changed = asyncio.Event()
        self._wake_probe = asyncio.Event()
        self._wake_queues = asyncio.Event()
        self._wake_health = asyncio.Event()
        # One health report at a time, each read when it is sent: a report built before
        # a change can never land after the report of that change and undo it.
        self._health_lock = asyncio.Lock()
        self._print_lock = asyncio.Lock()
        self._online = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._pin_failures = 0
        self._pin_locked_until = 0.0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.printer.start()
        loops: list[Callable[[], Awaitable[None]]] = [
            self._probe_loop,
            self._queues_loop,
            self._health_loop,
            self._printer_events,
        ]
        if self.config.use_bus:
            loops.append(self._bus_loop)
        for loop in loops:
            self._tasks.append(asyncio.create_task(self._guard(loop), name=loop.__name__))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a loop stuck in a library call that swallows the cancellation
            # must not keep the kiosk (or a test's teardown) from stopping.
            done, pending = await asyncio.wait(self._tasks, timeout=STOP_GRACE_SECONDS)
            for task in done:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    task.result()
            for task in pending:
                log.warning("kiosk loop %s did not stop in time", task.get_name())
        self._tasks.clear()
        await self.printer.stop()
        await self.engine.aclose()

    async def _guard(self, loop: Callable[[], Awaitable[None]]) -> None:
        """Keep a background loop alive whatever goes wrong in one round."""
        while True:
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("kiosk loop %s failed; restarting it", loop.__name__)
                await asyncio.sleep(1.0)

    # ------------------------------------------------------------------ page state

    def _touch(self) -> None:
        """The page's state changed: wake every waiting long poll."""
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_change(self, after: int, seconds: float) -> None:
        """Return when the state is newer than ``after`` or after ``seconds``."""
        if self.version > after:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)

    def _timezone(self) -> ZoneInfo:
        name = (self.hall or {}).get("timezone") or "Asia/Shanghai"
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("Asia/Shanghai")

    def printer_view(self) -> dict[str, Any]:
        health = self.printer.health
        ok = health.state is HealthState.ONLINE
        return {
            "state": health.state.value,
            "ok": ok,
            "problem": None if ok else printer_problem(health.state.value, health.reason),
            "warning": "纸将用完" if ok and "paper near end" in health.reason else None,
        }

    def state(self) -> dict[str, Any]:
        now = utcnow()
        services = []
        for s in self.services.values():
            quota_left = s.get("quota_left")
            services.append(
                {
                    "service": s["service"],
                    "name": s["name"],
                    "prefix": s.get("prefix", ""),
                    "waiting": s.get("waiting", 0),
                    "open_now": bool(s.get("open_now", True)),
                    "opens_text": None
                    if s.get("open_now", True)
                    else (opens_text(s.get("next_opening"), now) or "今日已停止办理"),
                    "sold_out": quota_left is not None and quota_left <= 0,
                    "estimated_wait_minutes": s.get("estimated_wait_minutes"),
                }
            )
        engine: dict[str, Any] = {"state": self.engine_state}
        if self.engine_state == OFFLINE:
            engine["message"] = ENGINE_DOWN.as_dict()
        elif self.engine_state == UNAUTHORIZED:
            engine["message"] = Message(
                "本机暂不能取号", ["取号机未获授权", CALL_STAFF], "error"
            ).as_dict()
        return {
            "version": self.version,
            "engine": engine,
            "hall": None
            if self.hall is None
            else {
                "name": self.hall.get("name", ""),
                "notice": self.hall.get("notice", ""),
                "timezone": self.hall.get("timezone"),
            },
            "services": services,
            "printer": self.printer_view(),
            "unprinted": len(self.unprinted),
            "staff": self.config.staff_pin is not None,
            "bus": self.bus_state,
            "result_seconds": self.config.result_seconds,
        }

    # ------------------------------------------------------------------ engine link

    def _set_engine(self, state: str, error: str = "") -> None:
        if state != self.engine_state:
            if state == ONLINE:
                log.info("engine %s reachable", self.config.engine_url)
            else:
                log.warning("engine %s: %s %s", self.config.engine_url, state, error)
            self.engine_state = state
            self.engine_error = error
            if state == ONLINE:
                self._online.set()
            else:
                self._online.clear()
            self._touch()

    def engine_lost(self, error: str) -> None:
        """A call failed for want of the engine: tell the page now, and probe at once."""
        self._set_engine(OFFLINE, error)
        self._wake_probe.set()

    async def _connect(self) -> None:
        """Learn the hall (from the token if not configured), its name and its services."""
        if self.engine.hall is None:
            me = await self.engine.whoami()
            if not me.get("hall"):
                raise EngineRefused(403, {"code": "forbidden", "detail": "token has no hall"})
            self.engine.hall = str(me["hall"])
        info = await self.engine.hall_info()
        self.hall = {k: info.get(k) for k in ("code", "name", "notice", "timezone")}
        await self.refresh_queues()

    async def refresh_queues(self) -> None:
        data = await self.engine.queues()
        fresh: dict[str, dict[str, Any]] = {}
        for q in data.get("queues", []):
            fresh[q["service"]] = {
                "service": q["service"],
                "name": q["name"],
                "prefix": q.get("prefix", ""),
                "waiting": q.get("waiting", 0),
                "open_now": q.get("open_now", True),
                "next_opening": q.get("next_opening"),
                "quota_left": q.get("quota_left"),
                "estimated_wait_minutes": q.get("estimated_wait_minutes"),
            }
        if fresh != self.services:
            self.services = fresh
            self._touch()
        # Numbers of past business days are void: no reprint for them.
        if self.unprinted.drop_before(utcnow().astimezone(self._timezone()).date()):
            self._touch()

    async def _wait(self, event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
        event.clear()

    async def _probe_loop(self) -> None:
        while True:
            try:
                await self.engine.probe()
                if self.engine_state != ONLINE or self.hall is None:
                    await self._connect()
                    self._set_engine(ONLINE)
                    self._wake_health.set()
                    self._wake_queues.set()
            except EngineUnreachable as err:
                self._set_engine(OFFLINE, str(err))
            except EngineRefused as err:
                if err.status in (401, 403):
                    self._set_engine(UNAUTHORIZED, err.detail)
                else:
                    self._set_engine(OFFLINE, str(err))
            interval = self.config.probe_interval
            if self.engine_state == UNAUTHORIZED:
                interval = max(interval, 10.0)
            await self._wait(self._wake_probe, interval)

    def _next_opening_in(self) -> float | None:
        """Seconds until the first closed service opens (refresh then)."""
        now = utcnow()
        soonest: float | None = None
        for s in self.services.values():
            if s.get("open_now") or not s.get("next_opening"):
                continue
            try:
                at = datetime.fromisoformat(s["next_opening"])
            except ValueError:
                continue
            delta = (at - now).total_seconds()
            soonest = delta if soonest is None else min(soonest, delta)
        return soonest

    async def _queues_loop(self) -> None:
        while True:
            live = self.bus_state == "live"
            seconds = self.config.queues_refresh if live else self.config.queues_interval
            opens = self._next_opening_in()
            if opens is not None:
                seconds = min(seconds, max(opens + 1.0, 1.0))
            await self._wait(self._wake_queues, seconds)
            if self.engine_state != ONLINE:
                continue
            try:
                await self.refresh_queues()
            except EngineUnreachable as err:
                self.engine_lost(str(err))
            except EngineRefused as err:
                log.warning("queues refused: %s", err)

    # ------------------------------------------------------------------ event bus

    def _on_bus_state(self, state: str) -> None:
        if state != self.bus_state:
            self.bus_state = state
            self._touch()
        if state == "offline":
            self._wake_probe.set()  # the engine may be gone: find out now
            self._wake_queues.set()

    def _make_bus(self) -> Any:
        if self._bus_factory is not None:
            return self._bus_factory(self)
        from services.busclient.client import BusClient

        return BusClient(
            self.config.engine_url,
            str(self.engine.hall),
            self.config.token,
            topics=("queue", "hall"),
            max_backoff=5.0,
            on_state=self._on_bus_state,
        )

    async def _bus_loop(self) -> None:
        """Live waiting counts from the hall bus; /queues polling covers when it is down."""
        from services.busclient.client import BusRefused

        while True:
            await self._online.wait()
            bus = self._make_bus()
            try:
                async for message in bus:
                    self._apply_bus(message)
            except BusRefused as err:
                log.warning("hall bus refused (%s); waiting counts come from polling", err)
                self._on_bus_state("refused")
                await asyncio.sleep(60.0)
            finally:
                with contextlib.suppress(Exception):
                    await bus.close()

    def _apply_bus(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "snapshot":
            changed = False
            for s in message.get("services", []):
                known = self.services.get(str(s.get("service")))
                if known is not None and known.get("waiting") != s.get("waiting"):
                    known["waiting"] = s.get("waiting", 0)
                    changed = True
            if changed:
                self._touch()
        elif kind == "event":
            data = message.get("data") or {}
            if message.get("type") == "queue.changed":
                known = self.services.get(str(data.get("service")))
                if known is not None and known.get("waiting") != data.get("waiting"):
                    known["waiting"] = data.get("waiting", 0)
                    self._touch()
            elif message.get("type") == "hall.updated":
                self.hall = None  # name, notice, services: read afresh
                self._wake_probe.set()

    # ------------------------------------------------------------------ health reporting

    async def _printer_events(self) -> None:
        events = self.printer.events()
        try:
            async for _event in events:
                self._touch()
                self._wake_health.set()
        finally:
            events.close()

    def health_report(self) -> list[dict[str, Any]]:
        health = self.printer.health
        return [
            {
                "key": "printer",
                "kind": "printer",
                "window": None,
                "status": health.state.value,
                "reason": health.reason[:200] or None,
                "last_seen": health.last_seen.isoformat() if health.last_seen else None,
            }
        ]

    async def report_health(self) -> bool:
        try:
            async with self._health_lock:
                await self.engine.report_health(self.health_report())
        except EngineUnreachable as err:
            self.engine_lost(str(err))
            return False
        except EngineRefused as err:
            if err.status in (404, 405) and not self.health_endpoint_missing:
                log.warning("the engine takes no device health reports yet (%s)", err)
                self.health_endpoint_missing = True
            elif err.status not in (404, 405):
                log.warning("health report refused: %s", err)
            return False
        self.health_reports += 1
        return True

    async def _health_loop(self) -> None:
        while True:
            await self._wait(self._wake_health, self.config.health_interval)
            if self.engine_state == ONLINE:
                await self.report_health()

    # ------------------------------------------------------------------ tickets

    def _content(self, ticket: dict[str, Any], notes: tuple[str, ...] = ()) -> TicketContent:
        issued = datetime.fromisoformat(str(ticket["issued_at"]).replace("Z", "+00:00"))
        return TicketContent(
            hall_name=(self.hall or {}).get("name") or "",
            service_name=str(ticket.get("service_name") or ""),
            number=str(ticket["number"]),
            waiting=int(ticket.get("waiting_ahead") or 0),
            issued_at=issued.astimezone(self._timezone()).replace(tzinfo=None),
            estimated_wait_minutes=ticket.get("estimated_wait_minutes"),
            status_url=ticket.get("status_url"),
            notes=notes,
        )

    async def print_ticket(self, ticket: dict[str, Any], notes: tuple[str, ...] = ()) -> str | None:
        """Print; None when printed, else why not (the printer's words)."""
        content = self._content(ticket, notes)
        async with self._print_lock:
            try:
                await asyncio.wait_for(
                    self.printer.print_ticket(content), self.config.print_timeout
                )
            except PrinterNotReady as err:
                reason = str(err) or "printer not ready"
            except DeviceUnavailable as err:
                reason = str(err) or "printer unavailable"
            except TimeoutError:
                reason = "printer did not finish in time"
            else:
                return None
        log.warning("ticket %s not printed: %s", content.number, reason)
        self._touch()
        self._wake_health.set()
        return reason

    def _ticket_out(self, ticket: dict[str, Any], printed: bool) -> dict[str, Any]:
        out = {
            "number": ticket["number"],
            "service_name": ticket.get("service_name"),
            "waiting_ahead": ticket.get("waiting_ahead"),
            "estimated_wait_minutes": ticket.get("estimated_wait_minutes"),
            "printed": printed,
        }
        url = ticket.get("status_url")
        if not printed and url:
            out["qr_image"] = qr_image(url)
        return out

    async def _deliver(self, ticket: dict[str, Any], title: str) -> dict[str, Any]:
        """Print an issued ticket; if it cannot be, keep it for a reprint and say so."""
        reason = await self.print_ticket(ticket)
        if reason is None:
            message = Message(title, ["请取走号票，留意叫号"], "info")
        else:
            self.unprinted.add(UnprintedTicket.from_ticket(ticket, reason, utcnow().isoformat()))
            self._touch()
            message = Message(
                "号票打印失败，" + CALL_STAFF,
                ["您的号码已取到，请记住号码", "工作人员可为您补打号票"],
                "error",
            )
        return {"ok": True, "ticket": self._ticket_out(ticket, reason is None), **message.as_dict()}

    async def take_ticket(self, service: str) -> dict[str, Any]:
        """取号: issue through the engine, print here."""
        name = (self.services.get(service) or {}).get("name")
        if self.engine_state != ONLINE:
            return {"ok": False, **ENGINE_DOWN.as_dict()}
        try:
            ticket = await self.engine.issue(service)
        except EngineRefused as err:
            self._wake_queues.set()
            return {"ok": False, **issue_refusal(err.code, err.extra, name, utcnow()).as_dict()}
        except EngineUnreachable as err:
            self.engine_lost(str(err))
            return {"ok": False, **ENGINE_DOWN.as_dict()}
        if self.bus_state != "live":
            self._wake_queues.set()
        return await self._deliver(ticket, "取号成功")

    async def check_in(self, code: str) -> dict[str, Any]:
        """预约签到 by booking code (typed, or the QR payload from the scanner)."""
        code = code.strip()
        if not 4 <= len(code) <= 80:
            return {"ok": False, **check_in_refusal("not_found", {}, utcnow()).as_dict()}
        if self.engine_state != ONLINE:
            return {"ok": False, **ENGINE_DOWN.as_dict()}
        try:
            done = await self.engine.check_in(code)
        except EngineRefused as err:
            return {"ok": False, **check_in_refusal(err.code, err.extra, utcnow()).as_dict()}
        except EngineUnreachable as err:
            self.engine_lost(str(err))
            return {"ok": False, **ENGINE_DOWN.as_dict()}
        return await self._deliver(done["ticket"], "预约签到成功")

    # ------------------------------------------------------------------ staff

    def pin_ok(self, pin: str | None) -> bool:
        """The staff PIN, with a lock after repeated wrong tries."""
        expected = self.config.staff_pin
        if expected is None or not pin:
            return False
        if time.monotonic() < self._pin_locked_until:
            return False
        if hmac.compare_digest(pin.encode(), expected.encode()):
            self._pin_failures = 0
            return True
        self._pin_failures += 1
        if self._pin_failures >= PIN_TRIES:
            self._pin_failures = 0
            self._pin_locked_until = time.monotonic() + PIN_LOCK_SECONDS
            log.warning("staff PIN: %d wrong tries, locked for %ds", PIN_TRIES, PIN_LOCK_SECONDS)
        return False

    def pin_locked(self) -> bool:
        return time.monotonic() < self._pin_locked_until

    def unprinted_list(self) -> list[dict[str, Any]]:
        tz = self._timezone()
        out = []
        for t in reversed(self.unprinted.tickets()):
            issued = datetime.fromisoformat(t.issued_at.replace("Z", "+00:00"))
            out.append(
                {
                    "number": t.number,
                    "service_name": t.service_name,
                    "issued": issued.astimezone(tz).strftime("%H:%M"),
                    "reason": printer_problem("error", t.reason),
                }
            )
        return out

    async def reprint(self, number: str) -> dict[str, Any]:
        """补打: print today's ticket with this number again (staff only)."""
        number = number.strip()
        ticket: dict[str, Any] | None = None
        kept = self.unprinted.find(number)
        try:
            if self.engine_state != ONLINE:
                raise EngineUnreachable("engine offline")
            chain = await self.engine.find_by_number(number)
            if chain:
                ticket = chain[-1]  # a transferred number lives on in its last ticket
        except EngineUnreachable as err:
            if self.engine_state == ONLINE:
                self.engine_lost(str(err))
            if kept is None:
                return {"ok": False, **ENGINE_DOWN.as_dict()}
        except EngineRefused as err:
            return {"ok": False, **Message("无法查询该号", [err.detail], "error").as_dict()}
        if ticket is None and kept is not None:
            ticket = {
                "id": kept.ticket_id,
                "number": kept.number,
                "service_name": kept.service_name,
                "waiting_ahead": kept.waiting_ahead,
                "estimated_wait_minutes": kept.estimated_wait_minutes,
                "status_url": kept.status_url,
                "issued_at": kept.issued_at,
                "status": "waiting",
            }
        if ticket is None:
            return {
                "ok": False,
                **Message(f"今天没有 {number.upper()} 号", ["请核对号码"]).as_dict(),
            }
        final = FINAL_STATUSES.get(str(ticket.get("status")))
        if final:
            self.unprinted.remove_number(ticket["number"])
            self._touch()
            return {"ok": False, **Message(f"{ticket['number']} 号{final}", ["无需补打"]).as_dict()}
        reason = await self.print_ticket(ticket, notes=("补打",))
        if reason is not None:
            return {
                "ok": False,
                "ticket": self._ticket_out(ticket, False),
                **Message(
                    "补打失败",
                    [f"打印机{printer_problem('error', reason)}", "请检查打印机后重试"],
                    "error",
                ).as_dict(),
            }
        self.unprinted.remove_number(ticket["number"])
        self._touch()
        return {
            "ok": True,
            "ticket": self._ticket_out(ticket, True),
            **Message(f"{ticket['number']} 已补打", [], "info").as_dict(),
        }
