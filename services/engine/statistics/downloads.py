"""A report as a file (CSV or XLSX): the tables the pages show, for a spreadsheet on a
hall's PC or the 月报 a district sends up (docs/statistics.md, "Downloads")."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import Query
from fastapi.responses import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE_RESPONSES: dict[int | str, dict[str, object]] = {200: {"content": {"text/csv": {}, XLSX: {}}}}
Format = Literal["json", "csv", "xlsx"]
FormatQ = Annotated[Format, Query(description="json, or the tables as csv or xlsx")]

Table = list[list[object]]  # a heading row, then the rows
Sheet = tuple[str, Table]  # its title (the XLSX sheet's name) and the table

# The hall's words for the stored codes.
OUTCOMES = {
    "done": "办结",
    "accepted": "受理",
    "told_missing": "一次性告知",
    "consulted": "咨询",
    "referred": "转办",
    "": "未记录",
}
SOURCES = {"kiosk": "取号机", "booking": "预约", "staff": "窗口", "api": "接口"}


def minutes(seconds: float | None) -> object:
    return round(seconds / 60, 2) if seconds is not None else ""


def file_response(name: str, sheets: Sequence[Sheet], format: Format) -> Response:
    """The sheets as one CSV (each under its title when there are several) or one XLSX
    workbook (a sheet each)."""
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for i, (title, table) in enumerate(sheets):
            if len(sheets) > 1:
                if i:
                    writer.writerow([])
                writer.writerow([title])
            writer.writerows(table)
        # With a BOM: a spreadsheet on a hall's PC opens the Chinese headings as UTF-8.
        return Response(
            ("\ufeff" + buffer.getvalue()).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        workbook(sheets),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


def workbook(sheets: Sequence[Sheet], title: str | None = None) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    if title:
        book.set_properties({"title": title})
    for title, table in sheets:
        sheet = book.add_worksheet(title[:31])  # Excel's limit on a sheet's name
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                sheet.write(r, c, value, bold if r == 0 else None)
        sheet.set_column(0, max((len(row) for row in table), default=1) - 1, 14)
    book.close()
    return buffer.getvalue()
