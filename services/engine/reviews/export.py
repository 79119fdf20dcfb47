"""Export of rating records and bad-review cases for the provincial 好差评 platform.

Rating records carry the GB/T 39046-2020 fields in its order: 办件编号 (an..50),
评价渠道, 评价人 (a..30), 评价时间 (YYYYMMDDThhmmss), 评价次数 (n..2), 满意度代码 (n1),
文字评价, 行政区划 (n..9); the channel and satisfaction codes come from the hall's
code table (a preset or its own). The engine keeps no rater's name: 评价人 is
``匿名``. A rating whose channel the table has no code for (e.g. system-default
ratings on the national table) is left out and counted in ``skipped``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import xlsxwriter

from services.engine.reviews.codes import CodeTable
from services.engine.reviews.states import SATISFACTION, STATE_WORDS, CaseState

RATING_FIELDS = (
    "办件编号",
    "评价渠道",
    "评价人",
    "评价时间",
    "评价次数",
    "满意度代码",
    "文字评价",
    "行政区划",
)
CASE_FIELDS = (
    "办件编号",
    "差评时间",
    "满意度代码",
    "工单状态",
    "回访期限",
    "整改期限",
    "回访时间",
    "核实结果",
    "申诉复核",
    "整改措施",
    "整改责任人",
    "整改完成时间",
    "反馈内容",
    "反馈时间",
    "回访满意度",
    "办结时间",
)
ANONYMOUS = "匿名"
# A fixed creation date keeps the spreadsheet's bytes the same for the same records.
_XLSX_CREATED = datetime(2020, 1, 1)


@dataclass(frozen=True)
class RatingRecord:
    case_number: str  # 办件编号
    channel: str  # the engine's channel
    at: datetime  # local time
    level: int
    reasons: tuple[str, ...]
    comment: str | None


@dataclass(frozen=True)
class CaseRecord:
    case_number: str
    opened_at: datetime  # local times throughout
    level: int
    state: str
    contact_due: date
    rectify_due: date
    contacted_at: datetime | None
    valid: bool | None
    appeal: str | None
    measure: str | None
    responsible: str | None
    rectified_at: datetime | None
    reply: str | None
    replied_at: datetime | None
    satisfaction: str | None
    closed_at: datetime | None


@dataclass(frozen=True)
class Export:
    ratings: list[dict[str, str]]
    cases: list[dict[str, str]]
    skipped: int  # ratings without a code on this table


def stamp(at: datetime | None) -> str:
    """评价时间 as GB/T 39046 writes it: YYYYMMDDThhmmss."""
    return at.strftime("%Y%m%dT%H%M%S") if at else ""


def _text(reasons: Sequence[str], comment: str | None) -> str:
    parts = [r for r in reasons if r.strip()]
    if comment and comment.strip():
        parts.append(comment.strip())
    return "；".join(parts)


def _appeal(value: str | None) -> str:
    return {"filed": "申诉中", "upheld": "申诉成立(无效差评)", "rejected": "申诉不成立"}.get(
        value or "", ""
    )


def build(
    table: CodeTable,
    region_code: str,
    ratings: Sequence[RatingRecord],
    cases: Sequence[CaseRecord],
) -> Export:
    rows: list[dict[str, str]] = []
    skipped = 0
    for r in ratings:
        code = table.channels.get(r.channel)
        if code is None:
            skipped += 1
            continue
        rows.append(
            dict(
                zip(
                    RATING_FIELDS,
                    (
                        r.case_number[:50],
                        code,
                        ANONYMOUS,
                        stamp(r.at),
                        "1",
                        table.satisfaction[r.level],
                        _text(r.reasons, r.comment),
                        region_code,
                    ),
                    strict=True,
                )
            )
        )
    case_rows = [
        dict(
            zip(
                CASE_FIELDS,
                (
                    c.case_number[:50],
                    stamp(c.opened_at),
                    table.satisfaction[c.level],
                    STATE_WORDS[CaseState(c.state)],
                    c.contact_due.strftime("%Y%m%d"),
                    c.rectify_due.strftime("%Y%m%d"),
                    stamp(c.contacted_at),
                    "" if c.valid is None else ("有效" if c.valid else "无效"),
                    _appeal(c.appeal),
                    c.measure or "",
                    c.responsible or "",
                    stamp(c.rectified_at),
                    c.reply or "",
                    stamp(c.replied_at),
                    SATISFACTION.get(c.satisfaction or "", ""),
                    stamp(c.closed_at),
                ),
                strict=True,
            )
        )
        for c in cases
    ]
    return Export(rows, case_rows, skipped)


def to_csv(rows: Sequence[dict[str, str]], fields: Sequence[str]) -> bytes:
    """UTF-8 with a byte-order mark (so a spreadsheet program reads the Chinese), CRLF."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_json(export: Export) -> bytes:
    data = {"ratings": export.ratings, "cases": export.cases, "skipped": export.skipped}
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def to_xlsx(export: Export) -> bytes:
    """Two sheets, 评价记录 and 差评工单, every cell text (codes keep leading zeros)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    book.set_properties({"created": _XLSX_CREATED, "title": "好差评数据"})
    for title, fields, rows in (
        ("评价记录", RATING_FIELDS, export.ratings),
        ("差评工单", CASE_FIELDS, export.cases),
    ):
        sheet = book.add_worksheet(title)
        for col, name in enumerate(fields):
            sheet.write_string(0, col, name)
        for row_index, row in enumerate(rows, start=1):
            for col, name in enumerate(fields):
                sheet.write_string(row_index, col, row[name])
    book.close()
    return buffer.getvalue()
