"""What the kiosk says to citizens (zh-CN), from engine refusals and device states. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

WEEKDAYS = "一二三四五六日"
CALL_STAFF = "请联系工作人员"


@dataclass(frozen=True)
class Message:
    """A dialog on the touch page: a title and a few short lines."""

    title: str
    lines: list[str] = field(default_factory=list)
    tone: str = "refusal"  # refusal | error | info

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "lines": list(self.lines), "tone": self.tone}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def when_text(at: datetime, now: datetime) -> str:
    """A moment in words, on the hall's own clock: 今天 14:00, 明天 08:30, 6月3日（周三）08:30.

    ``at`` carries the hall's UTC offset (as the engine sends it); ``now`` is moved
    to the same offset first.
    """
    if at.tzinfo is not None:
        now = now.astimezone(at.tzinfo)
    days = (at.date() - now.date()).days
    clock = at.strftime("%H:%M")
    if days == 0:
        return f"今天 {clock}"
    if days == 1:
        return f"明天 {clock}"
    if days == 2:
        return f"后天 {clock}"
    return f"{at.month}月{at.day}日（周{WEEKDAYS[at.weekday()]}）{clock}"


def opens_text(next_opening: str | None, now: datetime) -> str | None:
    at = parse_time(next_opening)
    return f"{when_text(at, now)} 开始办理" if at is not None else None


def issue_refusal(
    code: str, extra: dict[str, Any], service_name: str | None, now: datetime
) -> Message:
    """An engine refusal of 取号, in the hall's words."""
    name = service_name or "该业务"
    if code == "outside_service_hours":
        opens = opens_text(extra.get("next_opening"), now)
        return Message(
            f"{name}现在不在办理时间",
            [opens or "近期没有安排办理时间", "可直接到窗口咨询"],
        )
    if code == "quota_exhausted":
        return Message(f"{name}：号已取完", ["可直接到窗口咨询"])
    if code in ("service_unavailable", "not_found"):
        return Message(f"{name}暂停办理", ["可直接到窗口咨询"])
    if code == "duplicate_open_ticket":
        return Message("您已取过该业务的号", ["请留意叫号", CALL_STAFF])
    if code in ("unauthorized", "forbidden"):
        return Message("本机暂不能取号", ["取号机未获授权", CALL_STAFF], "error")
    return Message("暂时无法取号", [CALL_STAFF], "error")


def check_in_refusal(code: str, extra: dict[str, Any], now: datetime) -> Message:
    """An engine refusal of 预约签到, in the hall's words."""
    if code == "check_in_too_early":
        at = parse_time(extra.get("opens_at"))
        when = f"请于 {when_text(at, now)} 之后签到" if at else "请稍后再签到"
        return Message("还未到签到时间", [when])
    if code == "check_in_too_late":
        return Message("已过签到时间", ["预约已失效，请重新取号"])
    if code == "booking_not_active":
        if extra.get("booking_status") == "checked_in":
            return Message("该预约已签到", ["请留意叫号", "号票遗失请联系工作人员"])
        return Message("该预约已取消或失效", ["请重新取号"])
    if code in ("not_found", "validation_error"):
        return Message("未找到该预约", ["请核对预约码后重试", CALL_STAFF])
    if code in ("outside_service_hours", "quota_exhausted", "service_unavailable"):
        return issue_refusal(code, extra, None, now)
    if code in ("unauthorized", "forbidden"):
        return Message("本机暂不能签到", ["取号机未获授权", CALL_STAFF], "error")
    return Message("暂时无法签到", [CALL_STAFF], "error")


ENGINE_DOWN = Message("系统连接中断", ["正在自动重新连接，请稍候", CALL_STAFF], "error")

_PRINTER_PROBLEMS = {
    "paper out": "缺纸",
    "paper near end": "纸将用完",
    "cover open": "机盖未关好",
    "cutter error": "切纸故障",
    "printer error": "打印机故障",
    "offline": "离线",
    "no answer to status request": "无响应",
    "not seen yet": "正在连接",
}


def printer_problem(state: str, reason: str) -> str:
    """``("error", "paper out")`` -> ``缺纸``; several problems are joined with 、."""
    if reason.startswith("port unavailable"):
        return "未连接"
    words = [_PRINTER_PROBLEMS.get(part.strip(), "") for part in reason.split(",") if part.strip()]
    words = [w for w in words if w]
    if words:
        return "、".join(dict.fromkeys(words))
    return "离线" if state == "offline" else "故障"
