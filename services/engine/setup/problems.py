"""The hall file's refusals in Chinese, for the settings page (大厅设置). Pure.

The settings page and ``jiaohao hall apply`` check a change with the same models
(``setup.hall_file.HallFile``); the file's reader gets their English messages, the
page gets these: a rule's own Chinese sentence (``SettingError.zh``) or, for a
bound or a type the models declare, one built from the field's name here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from services.engine.halls.opening_hours import SettingError

FIELDS = {
    "name": "名称",
    "code": "业务代码",
    "prefix": "取号前缀",
    "width": "号码位数",
    "daily_quota": "每日限号",
    "period_quotas": "分时段限号",
    "limit": "时段限号数",
    "hours": "办理时段",
    "target_wait_minutes": "目标等候时间（分钟）",
    "average_handle_minutes": "平均办理时间（分钟）",
    "active": "是否启用",
    "weekly": "每周办公时间",
    "extra": "加开时段",
    "closed_dates": "闭厅日期",
    "working_dates": "调休上班日期",
    "national_calendar": "执行国家法定节假日",
    "makeup_weekday": "调休上班日按星期几的时间",
    "max_recalls": "最多重呼次数",
    "no_show": "过号处理",
    "requeue_places": "过号重排后移位数",
    "interleave": "优先与普通号交替比例",
    "one_open_ticket_per_person": "每人每项业务限一个号",
    "policy": "叫号策略",
    "kiosk_classes": "自助取号机可取的号类",
    "outcome_required": "办结须填写办理结果",
    "low_volume_cases_per_month": "月办件量偏低的标准",
    "pause_alert_minutes": "暂停告警时间（分钟）",
    "long_case_factor": "办理超时倍数",
}

HALL_SECTIONS = {"hours": "办公时间", "rules": "叫号规则"}


@dataclass(frozen=True)
class Problem:
    """One refused field: where (``services.1.daily_quota``) and why, in Chinese."""

    field: str
    message: str


def problems_zh(err: ValidationError, raw: dict[str, Any]) -> list[Problem]:
    """Each error of a hall file's validation, said in Chinese (``raw`` names the services)."""
    return [_one(e, raw) for e in err.errors()]


def _one(e: Any, raw: dict[str, Any]) -> Problem:
    loc: tuple[int | str, ...] = tuple(e["loc"])
    where = ".".join(str(p) for p in loc)
    error = (e.get("ctx") or {}).get("error")
    said = error.zh if isinstance(error, SettingError) else _bound(e)
    label = _label(loc, raw)
    return Problem(where, f"{label}：{said}" if label else said)


def _label(loc: tuple[int | str, ...], raw: dict[str, Any]) -> str:
    parts: list[str] = []
    if len(loc) >= 2 and loc[0] == "services" and isinstance(loc[1], int):
        services = raw.get("services") or []
        name = services[loc[1]].get("name") if loc[1] < len(services) else None
        parts.append(f"业务“{name or loc[1] + 1}”")
        rest = loc[2:]
    else:
        rest = loc[1:] if loc[:1] == ("hall",) else loc
        if rest in (("hours",), ("rules",)):  # a rule of the whole section
            return HALL_SECTIONS[str(rest[0])]
    names = [FIELDS[p] for p in rest if isinstance(p, str) and p in FIELDS]
    if names:
        parts.append(names[-1] if "period_quotas" not in rest else "分时段限号")
    return " ".join(parts)


def _bound(e: Any) -> str:
    kind = e["type"]
    ctx = e.get("ctx") or {}
    if kind == "greater_than_equal":
        return f"不能小于 {ctx.get('ge')}"
    if kind == "greater_than":
        return f"须大于 {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"不能大于 {ctx.get('le')}"
    if kind == "less_than":
        return f"须小于 {ctx.get('lt')}"
    if kind == "string_pattern_mismatch":
        return "格式不正确（取号前缀为 1 至 2 个大写字母，如 A 或 AB）"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "须为整数"
    if kind in ("float_parsing", "float_type"):
        return "须为数字"
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type"):
        return "日期不正确（应为 YYYY-MM-DD）"
    if kind == "literal_error":
        return f"只能是 {ctx.get('expected')}"
    if kind == "missing":
        return "必须填写"
    if kind == "extra_forbidden":
        return "不认识的设置项"
    if kind in ("string_too_short", "string_type"):
        return "必须填写文字"
    if kind == "bool_parsing":
        return "须为是或否"
    return "填写不正确"
