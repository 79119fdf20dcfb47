"""The hall manager's dashboard (实时监控): ``/manage/{hall}`` and its API.

The page holds no secret: the manager logs in inside it (the OAuth2 password flow,
``/assets/js/session.js``) and follows the hall event bus; every write below is for
managers and admins of the hall (``ManageAccess``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse

from services.engine.alerts import repository as alerts_repo
from services.engine.alerts import service as alerts
from services.engine.alerts.dashboard import read_hall
from services.engine.alerts.models import Alert
from services.engine.audit import repository as audit_repo
from services.engine.auth import accounts
from services.engine.auth.models import User
from services.engine.auth.permissions import Role
from services.engine.balancing import repository as balancing_repo
from services.engine.balancing import service as balancing
from services.engine.core.db import utcnow
from services.engine.core.problems import problem_responses
from services.engine.deps import (
    AccessCacheDep,
    ManageAccess,
    ReportAccess,
    RowId,
    SessionDep,
    SettingsDep,
    WindowNumber,
)
from services.engine.halls import repository as halls_repo
from services.engine.halls import service as halls
from services.engine.halls.service import rules_of
from services.engine.manage.schemas import (
    AccountIn,
    AccountOut,
    AlertOut,
    AuditOut,
    DeviceLineOut,
    HallHeadOut,
    LinkOut,
    NewPasswordOut,
    NoticeIn,
    NoticeOut,
    OverviewOut,
    QueueOut,
    TidalLogOut,
    TidalPanelOut,
    TidalResolveOut,
    WindowServicesIn,
    WindowServicesOut,
    WindowTileOut,
)
from services.engine.pages import CSS, JS, hall_page, page_file
from services.engine.windows import service as windows

api = APIRouter(prefix="/api/v1/halls/{hall}", tags=["hall manager"])
pages = APIRouter(tags=["pages"])

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"manage.js": JS, "manage.css": CSS}
AlertId = RowId


def alert_out(a: Alert) -> AlertOut:
    return AlertOut(
        id=a.id,
        kind=a.kind,
        key=a.key,
        severity=a.severity,
        data=a.data or {},
        opened_at=a.opened_at,
        cleared_at=a.cleared_at,
        acknowledged_at=a.acknowledged_at,
        acknowledged_by=a.acknowledged_by,
        resolution=a.resolution,
    )


def links_out(links: dict[str, list[Any]] | None) -> list[LinkOut]:
    return [LinkOut(service=c, weight=float(w), role=str(r)) for c, (w, r) in (links or {}).items()]


@api.get("/manage/overview", response_model=OverviewOut)
async def overview(access: ReportAccess, session: SessionDep, settings: SettingsDep) -> OverviewOut:
    """Everything the dashboard shows, read at one moment: window tiles, queues (the
    furthest over target first), open and recent alerts, tidal windows, devices, the
    latest changes."""
    hall, now = access.hall, utcnow()
    reading = await read_hall(session, hall, now, silent_after=settings.device_silent_seconds)
    codes = {s.id: s.code for s in await halls_repo.services_of(session, hall.id)}
    open_alerts = await alerts_repo.open_alerts(session, hall.id)
    closed = await alerts_repo.recent_closed(session, hall.id, 20)
    changes = await balancing_repo.recent_changes(session, hall.id, 20)
    spec = balancing.tidal_of(hall)
    entries = await audit_repo.entries(session, hall.id, since=now - timedelta(days=1), limit=30)
    rules = rules_of(hall)
    out = OverviewOut(
        now=now,
        hall=HallHeadOut(
            code=hall.code,
            name=hall.name,
            timezone=hall.timezone,
            notice=hall.notice,
            pause_alert_minutes=rules.pause_alert_minutes,
            long_case_factor=rules.long_case_factor,
        ),
        windows=[
            WindowTileOut(
                number=t.window.number,
                name=t.window.name,
                kind=t.window.kind,
                active=t.window.active,
                state=t.window.state,
                state_since=t.window.state_changed_at,
                minutes_in_state=round(t.minutes_in_state, 1),
                pause_reason=t.window.pause_reason,
                staff=t.staff,
                staff_since=t.window.staff_since,
                current_ticket=t.number,
                current_service=t.service,
                in_hand_since=t.in_hand_since,
                started_at=t.started_at,
                cases_today=t.cases_today,
                services=[LinkOut(service=c, weight=w, role=r) for c, w, r in t.links],
                pause_too_long=t.pause_too_long,
                case_too_long=t.case_too_long,
                adjusted_at=t.window.services_adjusted_at,
                planned_services=(
                    links_out(t.window.planned_services)
                    if t.window.services_adjusted_at is not None
                    else None
                ),
            )
            for t in reading.windows
            if t.window.active
        ],
        queues=[
            QueueOut(
                service=q.service.code,
                name=q.service.name,
                prefix=q.service.prefix,
                waiting=q.waiting,
                by_class=q.by_class,
                oldest_wait_minutes=(
                    None if q.oldest_wait_minutes is None else round(q.oldest_wait_minutes, 1)
                ),
                target_wait_minutes=q.service.target_wait_minutes,
                over_target_minutes=round(q.over_target_minutes, 1),
                estimated_wait_minutes=q.estimated_wait_minutes,
                issued_today=q.issued_today,
                served_today=q.served_today,
                no_show_today=q.no_show_today,
                quota_left=q.quota_left,
                windows=q.windows,
                open_windows=q.open_windows,
                open_now=q.open_now,
            )
            for q in reading.queues
        ],
        alerts=[alert_out(a) for a in open_alerts],
        closed_alerts=[alert_out(a) for a in closed],
        tidal=TidalPanelOut(
            mode=spec.mode.value,
            windows=list(spec.windows),
            log=[
                TidalLogOut(
                    at=c.at,
                    service=codes.get(c.service_id, str(c.service_id)),
                    mode=c.mode,
                    action=c.action,
                    windows=[int(n) for n in c.windows],
                    reason=c.reason,
                )
                for c in changes
            ],
        ),
        devices=[
            line
            for r in reading.reporters
            for line in [
                DeviceLineOut(
                    reporter=r.reporter.name,
                    reporter_kind=r.reporter.kind,
                    key="reporter",
                    kind=r.reporter.kind,
                    window=None,
                    status=r.status,
                    reason=r.reason,
                    last_contact=r.reporter.last_seen_at,
                ),
                *[
                    DeviceLineOut(
                        reporter=r.reporter.name,
                        reporter_kind=r.reporter.kind,
                        key=d.record.key,
                        kind=d.record.kind,
                        window=d.record.window,
                        status=d.status,
                        reason=d.reason,
                        last_contact=d.record.last_seen or d.record.reported_at,
                    )
                    for d in r.devices
                ],
            ]
        ],
        audit=[
            AuditOut(
                at=e.at,
                actor=e.actor,
                action=e.action,
                target=e.target,
                before=e.before,
                after=e.after,
            )
            for e in entries
        ],
    )
    await session.rollback()  # a read: end it (SQLite holds its lock)
    return out


@api.get("/alerts", response_model=list[AlertOut])
async def list_alerts(
    access: ManageAccess,
    session: SessionDep,
    closed: Annotated[int, Query(ge=0, le=500, description="also the latest N closed")] = 0,
) -> list[AlertOut]:
    """Open alerts (oldest first), then the latest ``closed`` cleared or resolved ones."""
    found = list(await alerts_repo.open_alerts(session, access.hall.id))
    if closed:
        found += list(await alerts_repo.recent_closed(session, access.hall.id, closed))
    out = [alert_out(a) for a in found]
    await session.rollback()
    return out


@api.post("/alerts/evaluate", response_model=list[AlertOut])
async def evaluate_alerts(
    access: ManageAccess, session: SessionDep, settings: SettingsDep
) -> list[AlertOut]:
    """Run the alert rules now (every engine also runs them every
    ``JIAOHAO_ALERT_CHECK_SECONDS``). Answers the alerts opened."""
    opened = await alerts.evaluate(
        session=session, hall=access.hall, silent_after=settings.device_silent_seconds
    )
    return [alert_out(a) for a in opened]


@api.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
async def acknowledge_alert(
    alert_id: AlertId, access: ManageAccess, session: SessionDep
) -> AlertOut:
    """已确认: the alert stays until its condition ends, marked with who saw it and when."""
    return alert_out(
        await alerts.acknowledge(
            session=session, hall=access.hall, alert_id=alert_id, principal=access.principal
        )
    )


async def _resolve(
    alert_id: int, access: ManageAccess, session: SessionDep, accept: bool
) -> TidalResolveOut:
    alert, changed = await alerts.resolve_tidal(
        session=session,
        hall=access.hall,
        alert_id=alert_id,
        accept=accept,
        principal=access.principal,
    )
    return TidalResolveOut(alert=alert_out(alert), windows_changed=changed)


@api.post("/alerts/{alert_id}/accept", response_model=TidalResolveOut)
async def accept_tidal(
    alert_id: AlertId, access: ManageAccess, session: SessionDep
) -> TidalResolveOut:
    """Accept a tidal recommendation: the designated windows serve the surging service
    at once (or stop serving it, for a recommendation to close)."""
    return await _resolve(alert_id, access, session, True)


@api.post("/alerts/{alert_id}/dismiss", response_model=TidalResolveOut)
async def dismiss_tidal(
    alert_id: AlertId, access: ManageAccess, session: SessionDep
) -> TidalResolveOut:
    """Dismiss a tidal recommendation: nothing changes; kept with who and when."""
    return await _resolve(alert_id, access, session, False)


@api.put("/windows/{number}/services", response_model=WindowServicesOut)
async def set_window_services(
    number: WindowNumber, body: WindowServicesIn, access: ManageAccess, session: SessionDep
) -> WindowServicesOut:
    """窗口动态调整: what the window serves (primary or secondary) and the weights, at
    once. Its tidal links stay. Audited; ``hall apply`` keeps or resets it (docs/manage.md)."""
    links: dict[str, tuple[float, str]] = {
        link.service: (link.weight, str(link.role)) for link in body.services
    }
    window, before, after = await windows.set_services(
        session=session, hall=access.hall, number=number, links=links, principal=access.principal
    )
    return WindowServicesOut(
        window=number,
        before=links_out(before),
        after=links_out(after),
        adjusted=window.services_adjusted_at is not None,
    )


@api.put("/notice", response_model=NoticeOut)
async def set_notice(body: NoticeIn, access: ManageAccess, session: SessionDep) -> NoticeOut:
    """The text the hall display scrolls (大厅公告), at once."""
    hall = await halls.set_notice(
        session=session,
        hall_id=access.hall.id,
        notice=body.notice.strip(),
        actor=access.principal.actor,
    )
    return NoticeOut(notice=hall.notice)


@api.get("/audit", response_model=list[AuditOut])
async def audit_log(
    access: ManageAccess,
    session: SessionDep,
    since: Annotated[datetime, Query(description="from this moment (with its UTC offset)")],
    limit: Annotated[int, Query(ge=1, le=10000)] = 500,
) -> list[AuditOut]:
    """The audit log: every change made from the manager's pages, newest first."""
    entries = await audit_repo.entries(session, access.hall.id, since=since, limit=limit)
    out = [
        AuditOut(
            at=e.at, actor=e.actor, action=e.action, target=e.target, before=e.before, after=e.after
        )
        for e in entries
    ]
    await session.rollback()
    return out


# -- accounts (账号管理) -------------------------------------------------------------------


def account_out(user: User) -> AccountOut:
    return AccountOut(
        id=user.id,
        username=user.username,
        role=user.role,
        active=user.active,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


@api.get("/accounts", response_model=list[AccountOut])
async def list_accounts(access: ManageAccess, session: SessionDep) -> list[AccountOut]:
    """The hall's staff and manager accounts, with their last login."""
    out = [account_out(u) for u in await accounts.list_accounts(session, access.hall)]
    await session.rollback()
    return out


@api.post("/accounts", response_model=NewPasswordOut, status_code=201)
async def add_account(body: AccountIn, access: ManageAccess, session: SessionDep) -> NewPasswordOut:
    """Add an account (a manager adds staff; an admin staff and managers). The password is
    generated and shown in this answer only."""
    user, password = await accounts.add_account(
        session=session,
        hall=access.hall,
        username=body.username,
        role=Role(body.role),
        principal=access.principal,
    )
    return NewPasswordOut(account=account_out(user), password=password)


@api.post("/accounts/{user_id}/disable", response_model=AccountOut)
async def disable_account(user_id: RowId, access: ManageAccess, session: SessionDep) -> AccountOut:
    """停用: the account's logins, tokens and open pages stop working at once."""
    return account_out(
        await accounts.set_active(
            session=session,
            hall=access.hall,
            user_id=user_id,
            active=False,
            principal=access.principal,
        )
    )


@api.post("/accounts/{user_id}/enable", response_model=AccountOut)
async def enable_account(user_id: RowId, access: ManageAccess, session: SessionDep) -> AccountOut:
    """启用 again."""
    return account_out(
        await accounts.set_active(
            session=session,
            hall=access.hall,
            user_id=user_id,
            active=True,
            principal=access.principal,
        )
    )


@api.post("/accounts/{user_id}/reset-password", response_model=NewPasswordOut)
async def reset_password(
    user_id: RowId, access: ManageAccess, session: SessionDep, cache: AccessCacheDep
) -> NewPasswordOut:
    """重置密码: a new generated password, shown in this answer only. The tokens issued
    before it are refused from now on (this process at once, the others when PostgreSQL
    announces the change)."""
    user, password = await accounts.reset_password(
        session=session, hall=access.hall, user_id=user_id, principal=access.principal
    )
    cache.forget()
    return NewPasswordOut(account=account_out(user), password=password)


# -- the page -----------------------------------------------------------------------------


@pages.get("/manage/{hall}", response_class=HTMLResponse, responses=problem_responses(404))
async def manage_page(hall: str, session: SessionDep) -> HTMLResponse:
    """The hall manager's dashboard: log in with a manager or admin account."""
    return await hall_page(session, hall, STATIC / "manage.html")


@pages.get("/manage/assets/{name}", include_in_schema=False)
async def manage_asset(name: str) -> FileResponse:
    return page_file(STATIC, ASSETS, name)
