"""Tickets issued but not printed (缺纸, printer offline): kept in a small JSON file so that
staff can reprint them by number, also after the kiosk program restarts."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"^\s*([A-Za-z]{1,2})\s*0*(\d{1,9})\s*$")


def same_number(a: str, b: str) -> bool:
    """``A023`` is ``a23``: staff type numbers as they hear them."""
    ma, mb = _NUMBER.match(a), _NUMBER.match(b)
    if ma is None or mb is None:
        return a.strip().upper() == b.strip().upper()
    return (ma.group(1).upper(), int(ma.group(2))) == (mb.group(1).upper(), int(mb.group(2)))


@dataclass(frozen=True)
class UnprintedTicket:
    """What it takes to print the ticket again; numbers only, never personal data."""

    ticket_id: int
    number: str
    service: str
    service_name: str
    business_date: str  # YYYY-MM-DD, the hall's business day
    issued_at: str  # ISO 8601
    waiting_ahead: int | None
    estimated_wait_minutes: int | None
    status_url: str | None
    reason: str  # why it was not printed
    failed_at: str

    @classmethod
    def from_ticket(cls, ticket: dict[str, Any], reason: str, failed_at: str) -> UnprintedTicket:
        return cls(
            ticket_id=int(ticket["id"]),
            number=str(ticket["number"]),
            service=str(ticket.get("service", "")),
            service_name=str(ticket.get("service_name", "")),
            business_date=str(ticket["business_date"]),
            issued_at=str(ticket["issued_at"]),
            waiting_ahead=ticket.get("waiting_ahead"),
            estimated_wait_minutes=ticket.get("estimated_wait_minutes"),
            status_url=ticket.get("status_url"),
            reason=reason,
            failed_at=failed_at,
        )


class UnprintedStore:
    """The list, written through to ``path`` (atomically) on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tickets: list[UnprintedTicket] = []
        self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self._tickets = [UnprintedTicket(**item) for item in raw.get("tickets", [])]
        except FileNotFoundError:
            self._tickets = []
        except (ValueError, TypeError, AttributeError) as err:
            # A damaged file must not stop the kiosk; keep it aside for a look.
            aside = self.path.with_suffix(".damaged.json")
            log.error("unprinted list %s unreadable (%s); moved to %s", self.path, err, aside)
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            self._tickets = []

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps(
            {"tickets": [asdict(t) for t in self._tickets]}, ensure_ascii=False, indent=1
        )
        fd, tmp = tempfile.mkstemp(prefix=".unprinted-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def tickets(self) -> list[UnprintedTicket]:
        return list(self._tickets)

    def __len__(self) -> int:
        return len(self._tickets)

    def add(self, ticket: UnprintedTicket) -> None:
        self._tickets = [t for t in self._tickets if t.ticket_id != ticket.ticket_id]
        self._tickets.append(ticket)
        self._save()

    def find(self, number: str) -> UnprintedTicket | None:
        for ticket in reversed(self._tickets):
            if same_number(ticket.number, number):
                return ticket
        return None

    def remove_number(self, number: str) -> bool:
        kept = [t for t in self._tickets if not same_number(t.number, number)]
        if len(kept) == len(self._tickets):
            return False
        self._tickets = kept
        self._save()
        return True

    def drop_before(self, today: date) -> int:
        """Forget tickets of past business days (their numbers are void now)."""
        kept = [t for t in self._tickets if t.business_date >= today.isoformat()]
        dropped = len(self._tickets) - len(kept)
        if dropped:
            self._tickets = kept
            self._save()
        return dropped
