"""The queue ticket (排队小票): content, per-hall layout, and its ESC/POS bytes. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from . import escpos
from .escpos import Align


@dataclass(frozen=True)
class TicketContent:
    hall_name: str  # e.g. 某某区政务服务中心
    service_name: str  # e.g. 社保医保
    number: str  # e.g. A023
    waiting: int  # 前方还有 N 人
    issued_at: datetime
    estimated_wait_minutes: int | None = None
    status_url: str | None = None  # shown as a QR code to follow the queue on a phone
    notes: tuple[str, ...] = ()  # extra notes for this ticket only


@dataclass(frozen=True)
class TicketLayout:
    """How one hall wants its tickets to look; every text is a template."""

    number_width: int = 4  # the number in large type: 4x4 by default
    number_height: int = 4
    hall_name_double: bool = True
    waiting_text: str = "前方还有 {waiting} 人"
    wait_text: str = "预计等候约 {minutes} 分钟"
    time_format: str = "%Y-%m-%d %H:%M"
    time_prefix: str = "取号时间："
    qr: bool = True
    qr_module_size: int = 6
    qr_error_correction: str = "M"
    qr_caption: str = "扫码查看排队进度"
    notes: tuple[str, ...] = ("过号请重新取号",)
    header_lines: tuple[str, ...] = ()
    footer_lines: tuple[str, ...] = ()
    feed_before_cut: int = 3  # blank lines so the cut does not clip the last line
    cut_feed_units: int = 0


DEFAULT_LAYOUT = TicketLayout()


def render_ticket(ticket: TicketContent, layout: TicketLayout = DEFAULT_LAYOUT) -> bytes:
    """ESC/POS bytes of one ticket: ESC @, FS & (Chinese mode), the lines, QR, partial cut."""
    out = bytearray(escpos.INIT + escpos.CHINESE_ON + escpos.align(Align.CENTER))
    for line in layout.header_lines:
        out += escpos.text_line(line)
    if layout.hall_name_double:
        out += escpos.bold(True) + escpos.size(2, 2)
        out += escpos.text_line(ticket.hall_name)
        out += escpos.size(1, 1) + escpos.bold(False)
    else:
        out += escpos.text_line(ticket.hall_name)
    out += escpos.text_line(ticket.service_name)
    out += escpos.size(layout.number_width, layout.number_height) + escpos.bold(True)
    out += escpos.text_line(ticket.number)
    out += escpos.bold(False) + escpos.size(1, 1)
    out += escpos.text_line(layout.waiting_text.format(waiting=ticket.waiting))
    if ticket.estimated_wait_minutes is not None:
        out += escpos.text_line(layout.wait_text.format(minutes=ticket.estimated_wait_minutes))
    if layout.qr and ticket.status_url:
        out += escpos.qr_code(
            ticket.status_url,
            module_size=layout.qr_module_size,
            ec=layout.qr_error_correction,
        )
        if layout.qr_caption:
            out += escpos.text_line(layout.qr_caption)
    out += escpos.text_line(layout.time_prefix + ticket.issued_at.strftime(layout.time_format))
    for note in (*layout.notes, *ticket.notes):
        out += escpos.text_line(note)
    for line in layout.footer_lines:
        out += escpos.text_line(line)
    out += escpos.align(Align.LEFT)
    out += escpos.feed(layout.feed_before_cut)
    out += escpos.partial_cut(layout.cut_feed_units)
    return bytes(out)
