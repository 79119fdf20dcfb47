"""Public 好差评 pages, no account: the citizen's rating through the ticket's signed link
(QR code, or the SMS/WeChat link a partner sends) and the hall's disclosure
(公开评价和整改回复). Server-rendered, zh-CN, no script, no personal data.
"""

from __future__ import annotations

import html
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from services.engine.core.db import utcnow
from services.engine.core.errors import NotFound, Refusal, ValidationFailed
from services.engine.deps import RowId, SessionDep, SettingsDep
from services.engine.evaluations.rules import LEVELS
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall
from services.engine.public.signing import signature_valid
from services.engine.reviews import service
from services.engine.reviews.schemas import PublicRatingIn

router = APIRouter(tags=["public"])

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
ITEMS = {"efficiency": "服务效率", "skill": "服务水平", "attitude": "服务态度"}
CONTENT_VERSION = "2020.1"  # 整体满意度 + 服务效率、服务水平、服务态度 (GB/T 39734)
_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:0;background:#f4f6f8;color:#1d2733}
main{max-width:760px;margin:0 auto;padding:16px}
h1{font-size:1.3rem;margin:.2rem 0 1rem} h2{font-size:1.1rem;margin:1.2rem 0 .5rem}
.card{background:#fff;border-radius:10px;padding:14px;margin-bottom:12px;box-shadow:0 1px 3px #0002}
.levels{display:grid;grid-template-columns:1fr;gap:8px}
.levels label{display:block;border:2px solid #c9d3dd;border-radius:8px;padding:12px;
font-size:1.1rem}
.levels input{margin-right:10px;transform:scale(1.3)}
.reasons label{display:inline-block;margin:4px 10px 4px 0}
textarea,input[type=tel]{width:100%;box-sizing:border-box;font-size:1rem;padding:8px;
border:1px solid #c9d3dd;border-radius:6px}
button{width:100%;padding:14px;font-size:1.15rem;background:#1565c0;color:#fff;border:0;border-radius:8px}
.note{color:#5b6875;font-size:.9rem} .ok{color:#1b5e20;font-size:1.2rem} .err{color:#b71c1c}
table{width:100%;border-collapse:collapse;background:#fff}
td,th{border-bottom:1px solid #e1e6eb;padding:6px;text-align:left}
th{background:#eef2f6} .num{text-align:right}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def _form(hall_name: str, number: str, reasons: tuple[str, ...], action: str, error: str) -> str:
    levels = "".join(
        f'<label><input type="radio" name="level" value="{k}" required>{v}</label>'
        for k, v in sorted(LEVELS.items(), reverse=True)
    )
    items = "".join(
        f"<p>{label}："
        + "".join(
            f'<label><input type="radio" name="{code}" value="{k}">{LEVELS[k]}</label> '
            for k in (5, 4, 3, 2, 1)
        )
        + "</p>"
        for code, label in ITEMS.items()
    )
    reason_boxes = "".join(
        f'<label><input type="checkbox" name="reasons" value="{html.escape(r)}">'
        f"{html.escape(r)}</label>"
        for r in reasons
    )
    err = f'<p class="err" role="alert">{html.escape(error)}</p>' if error else ""
    return _page(
        "服务评价",
        f"<h1>{html.escape(hall_name)} · 服务评价</h1>"
        f'<p class="note">号码 {html.escape(number)}。评价完全自愿，每次服务只能评价一次。</p>{err}'
        f'<form method="post" action="{html.escape(action)}">'
        f'<div class="card"><h2>整体满意度</h2><div class="levels">{levels}</div></div>'
        f'<div class="card"><h2>评价内容（选填）</h2>{items}</div>'
        '<div class="card"><h2>不满意的原因</h2><p class="note">选择“不满意”或“非常不满意”时，'
        f'请选择原因或填写意见。</p><div class="reasons">{reason_boxes}</div>'
        '<p><textarea name="comment" rows="3" maxlength="500" placeholder="意见或建议（选填）">'
        "</textarea></p>"
        '<p class="note">如希望我们回访，可留下手机号'
        "（仅用于差评回访，加密保存，办结后按期删除）：</p>"
        '<p><input type="tel" name="callback_phone" maxlength="20" inputmode="tel"></p></div>'
        '<button type="submit">提交评价</button></form>',
    )


async def _ticket_hall(
    session: SessionDep, settings: SettingsDep, hall: str, ticket_id: int, s: str | None
) -> Hall:
    if not signature_valid(settings.secret_key, hall, ticket_id, s):
        raise NotFound("no such ticket, or the link is not valid")
    found = await halls_repo.get_hall_by_code(session, hall)
    if found is None:
        raise NotFound("no such ticket, or the link is not valid")
    return found


def _not_found() -> HTMLResponse:
    return HTMLResponse(
        _page("链接无效", "<h1>链接无效</h1><p>该号码不存在，或链接已失效。</p>"),
        status_code=404,
        headers=_HEADERS,
    )


@router.get("/t/{hall}/{ticket_id}/rate", response_class=HTMLResponse)
async def rating_page(
    hall: str,
    ticket_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    s: Annotated[str | None, Query(max_length=64)] = None,
    via: Literal["qr", "sms"] = "qr",
) -> Response:
    """The rating form behind the ticket's QR code (and the link sent by SMS/WeChat)."""
    from services.engine.tickets.models import Ticket

    try:
        found = await _ticket_hall(session, settings, hall, ticket_id, s)
    except NotFound:
        return _not_found()
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or ticket.hall_id != found.id:
        return _not_found()
    conf = await service.settings_of(session, found.id)
    await session.commit()
    action = f"/t/{hall}/{ticket_id}/rate?s={s}&via={via}"
    return HTMLResponse(
        _form(found.name, ticket.number, conf.reasons, action, ""), headers=_HEADERS
    )


_MESSAGES = {
    "already_rated": "该号码已经评价过，感谢您的参与。",
    "rating_closed": "已超过评价期限。",
    "invalid_ticket_state": "业务办结后才能评价。",
    "rating_needs_reason": "选择不满意时，请选择原因或填写意见。",
    "validation_error": "填写内容不正确，请检查后重新提交。",
}


@router.post("/t/{hall}/{ticket_id}/rate", response_model=None)
async def rate_by_link(
    hall: str,
    ticket_id: RowId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    s: Annotated[str | None, Query(max_length=64)] = None,
    via: Literal["qr", "sms"] = "qr",
) -> Response:
    """Record the citizen's rating from the signed link: a form post (the page) or JSON
    (``PublicRatingIn``). One rating per ticket, only once finished, within the hall's
    ``rating_days``."""
    wants_json = request.headers.get("content-type", "").startswith("application/json")
    try:
        found = await _ticket_hall(session, settings, hall, ticket_id, s)
        if wants_json:
            body = PublicRatingIn.model_validate(await request.json())
        else:
            form = await request.form()
            items = {k: int(str(form[k])) for k in ITEMS if form.get(k)}
            body = PublicRatingIn(
                level=int(str(form.get("level") or 0)),
                reasons=[str(r) for r in form.getlist("reasons")],
                comment=str(form.get("comment") or "").strip() or None,
                items=items or None,
                callback_phone=str(form.get("callback_phone") or "").strip() or None,
            )
        if body.items and any(v not in LEVELS for v in body.items.values()):
            raise ValidationFailed("each rating item is a level 1-5")
        await service.rate(
            session=session,
            hall=found,
            ticket_id=ticket_id,
            level=body.level,
            reasons=body.reasons,
            comment=body.comment,
            channel=via,
            pii_key=settings.pii_key,
            items={str(k): v for k, v in body.items.items()} if body.items else None,
            content_version=CONTENT_VERSION,
            callback_phone=body.callback_phone,
            by_link=True,
        )
    except (ValidationError, ValueError) as err:
        if wants_json:
            raise ValidationFailed(str(err).splitlines()[0]) from err
        return HTMLResponse(
            _page("服务评价", f'<p class="err">{_MESSAGES["validation_error"]}</p>'),
            status_code=422,
            headers=_HEADERS,
        )
    except Refusal as refusal:
        if wants_json:
            raise
        if isinstance(refusal, NotFound):
            return _not_found()
        text = _MESSAGES.get(refusal.code, "评价未能提交，请稍后再试。")
        return HTMLResponse(
            _page("服务评价", f'<h1>服务评价</h1><p class="err" role="alert">{text}</p>'),
            status_code=refusal.status,
            headers=_HEADERS,
        )
    if wants_json:
        return JSONResponse({"recorded": True}, status_code=201, headers=_HEADERS)
    return HTMLResponse(
        _page("评价成功", '<h1>服务评价</h1><p class="ok" role="status">感谢您的评价！</p>'),
        status_code=201,
        headers=_HEADERS,
    )


def _month(today: date) -> tuple[date, date]:
    start = today.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return start, end


def _percent(value: object) -> str:
    return f"{value}%" if value is not None else "—"


@router.get("/p/{hall}/reviews", response_model=None)
async def disclosure(
    hall: str,
    session: SessionDep,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    fmt: Annotated[Literal["html", "json"], Query(alias="format")] = "html",
) -> Response:
    """公开评价和整改回复: a hall's indicators, its answered bad reviews and 好评率 per
    window for a period (this month unless given). No login, no personal data."""
    found = await halls_repo.get_hall_by_code(session, hall)
    if found is None:
        raise NotFound(f"no hall {hall}")
    if start is None or end is None:
        start, end = _month(service.local_date(found, utcnow()))
    service.check_period(start, end)
    totals = await service.indicators(session=session, hall=found, scope=service.Scope(start, end))
    reviews, per_window = await service.published(session=session, hall=found, start=start, end=end)
    await session.commit()
    if fmt == "json":
        return JSONResponse(
            {
                "hall": found.code,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "indicators": totals.as_dict(),
                "windows": {str(n): ind.rates["good"].as_dict() for n, ind in per_window.items()},
                "reviews": [
                    {
                        "date": r.day.isoformat(),
                        "level": r.level,
                        "service": r.service,
                        "window": r.window,
                        "comment": r.comment,
                        "reply": r.reply,
                        "replied_on": r.replied_on.isoformat(),
                    }
                    for r in reviews
                ],
            },
            headers={"Cache-Control": "no-store"},
        )
    data = totals.as_dict()
    rates = data["rates"]
    assert isinstance(rates, dict)
    rows = "".join(
        f"<tr><th>{html.escape(r['name'])}</th><td class='num'>{_percent(r['percent'])}</td>"
        f"<td class='num'>{r['numerator']} / {r['denominator']}</td></tr>"
        for r in rates.values()
    )
    levels = "".join(
        f"<tr><th>{LEVELS[level]}</th><td class='num'>{count}</td></tr>"
        for level, count in sorted(totals.levels.items(), reverse=True)
    )
    windows = "".join(
        f"<tr><th>{n} 号窗口</th><td class='num'>{_percent(ind.rates['good'].percent)}</td>"
        f"<td class='num'>{ind.rates['good'].numerator} / {ind.rates['good'].denominator}</td></tr>"
        for n, ind in per_window.items()
    )
    items = (
        "".join(
            f'<div class="card"><p><b>{r.day:%Y-%m-%d}</b> · {html.escape(r.service)}'
            f"{f' · {r.window} 号窗口' if r.window else ''} · {LEVELS[r.level]}</p>"
            + (f"<p>评价内容：{html.escape(r.comment)}</p>" if r.comment else "")
            + f"<p>整改回复（{r.replied_on:%Y-%m-%d}）：{html.escape(r.reply)}</p></div>"
            for r in reviews
        )
        or '<p class="note">本期没有已回复的差评。</p>'
    )
    body = (
        f"<h1>{html.escape(found.name)} · 好差评公示</h1>"
        f'<p class="note">统计期间：{start:%Y-%m-%d} 至 {end:%Y-%m-%d}。办件 {totals.finished} 件，'
        f"主动评价 {totals.active} 件，默认评价 {totals.defaults} 件；经申诉复核认定无效的差评 "
        f"{totals.excluded} 件，保留记录但不计入各项比率。</p>"
        f'<h2>评价指标</h2><table aria-label="评价指标">{rows}</table>'
        f'<h2>各等级评价数</h2><table aria-label="各等级评价数">{levels}</table>'
        f'<h2>各窗口好评率</h2><table aria-label="各窗口好评率">{windows}</table>'
        f"<h2>差评及整改回复</h2>{items}"
        '<p class="note">本页不显示任何个人信息。'
        "指标名称依照 GB/T 39734-2020、GB/T 39735-2020；比率保留两位小数。</p>"
    )
    return HTMLResponse(_page("好差评公示", body), headers=_HEADERS)
