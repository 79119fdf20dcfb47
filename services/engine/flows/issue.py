"""取号: issue a ticket, the use case behind the kiosk, the staff console and the API.

One commit per batch of issues (core/group_commit.py): the tickets, their log
rows and events, and what the tidal rules decide because of them are written in
the same transaction. The wait estimate is read after the commit and commits
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth.cache import AccessCache
from services.engine.auth.permissions import DeviceKind, Principal
from services.engine.balancing import service as balancing
from services.engine.core import group_commit, pii
from services.engine.core.db import utcnow
from services.engine.core.errors import PriorityNotAllowed, Refusal
from services.engine.events import outbox
from services.engine.flows.tickets import TicketView
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall
from services.engine.halls.service import rules_of
from services.engine.tickets import service as tickets
from services.engine.tickets.service import IssuedTicket, IssueRequest
from services.engine.tickets.states import PriorityClass, TicketSource


async def issue_ticket(
    *,
    session: AsyncSession,
    hall: Hall,
    service_code: str,
    priority: PriorityClass,
    source: TicketSource,
    principal: Principal,
    pii_key: str,
    id_number: str | None = None,
    phone: str | None = None,
    now: datetime | None = None,
    cache: AccessCache | None = None,
) -> TicketView:
    """Issue the next number of a service, inside its hours and quotas.

    Issues of a hall that arrive together are written in one transaction; this
    request is answered once that is committed, with its place (前方还有N人,
    counted in that transaction) and its estimated wait.
    """
    if principal.role == DeviceKind.KIOSK and not rules_of(hall).kiosk_may_issue(priority.value):
        raise PriorityNotAllowed(
            f"a kiosk of this hall issues {', '.join(rules_of(hall).kiosk_classes) or 'no'} "
            f"tickets; {priority.value} tickets are given at the guide desk (导办台)",
            priority=priority.value,
        )
    phone_digits = pii.normalise_phone(phone) if phone else None
    request = IssueRequest(
        service_code=service_code,
        priority=priority,
        source=source,
        actor=principal.actor,
        person_hash=(
            pii.keyed_hash(pii_key, "id", pii.normalise_id_number(id_number)) if id_number else None
        ),
        phone_hash=pii.keyed_hash(pii_key, "phone", phone_digits) if phone_digits else None,
        phone_tail=pii.tail(phone_digits) if phone_digits else None,
        now=now,
    )

    async def write(batch: Sequence[IssueRequest]) -> list[IssuedTicket | Refusal]:
        try:
            outcomes = await tickets.issue_batch_uncommitted(
                session=session, hall=hall, requests=batch, cache=cache
            )
            board = await _tidal_after_issue(session, hall, outcomes, now or utcnow())
            await outbox.commit(session)
        except BaseException:
            outbox.discard(session)
            await session.rollback()
            raise
        if board is not None:
            balancing.remember_board(hall.id, board)
        # The other requests read the services they are answered with: not through
        # this request's session.
        for issued in outcomes:
            if isinstance(issued, IssuedTicket) and issued.service in session:
                session.expunge(issued.service)
        return outcomes

    issued = await group_commit.submit("issue", hall.id, request, write)
    wait = await balancing.wait_after_issue(
        session, hall, issued.service, now or issued.ticket.issued_at, issued.ahead
    )
    return TicketView(issued.ticket, issued.service, issued.ahead, None, None, wait)


async def _tidal_after_issue(
    session: AsyncSession,
    hall: Hall,
    outcomes: Sequence[IssuedTicket | Refusal],
    now: datetime,
) -> balancing.WaitBoard | None:
    """Run the tidal rules in the issuing transaction when one watches a service that
    just got tickets (a new ticket of another service cannot start a surge). Returns
    the reading of the hall it took, for the estimates."""
    issued = [o.service for o in outcomes if isinstance(o, IssuedTicket)]
    if not issued or not balancing.tidal_watches(hall, issued):
        return None
    services = await halls_repo.services_of(session, hall.id, active_only=True)
    board = await balancing.wait_board(session, hall, now, services)
    await balancing.evaluate_tidal(session, hall, now, board, services)
    return board
