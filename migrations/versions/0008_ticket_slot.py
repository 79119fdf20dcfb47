"""ticket slot: an appointment ticket carries the slot it was booked for

The calling policy calls an appointment (预约) checked in early as a normal
ticket until its slot starts, and one checked in after its slot as normal; the
"ahead" number (前方还有N人) must count it the same way. Both now read the slot
from the ticket itself instead of from its booking. Tickets checked in before
this migration get their booking's slot.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 09:00:00
"""

# Safe online: nullable columns; restart engines soon (old engines' check-ins get no slot).

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.add_column(sa.Column("slot_starts_at", WHEN, nullable=True))
        batch_op.add_column(sa.Column("slot_ends_at", WHEN, nullable=True))
    op.execute(
        """
        UPDATE tickets SET
            slot_starts_at = (SELECT b.starts_at FROM bookings b WHERE b.ticket_id = tickets.id),
            slot_ends_at = (SELECT b.ends_at FROM bookings b WHERE b.ticket_id = tickets.id)
        WHERE EXISTS (SELECT 1 FROM bookings b WHERE b.ticket_id = tickets.id)
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_column("slot_ends_at")
        batch_op.drop_column("slot_starts_at")
