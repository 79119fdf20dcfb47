"""queue by class: waiting tickets indexed per service and priority class

The queue index gains the priority class, so the counts per class (前方还有N人,
waiting per service) are read from the index alone and call-next reads the
first few tickets of each service and class without sorting the whole queue.
Tickets sent to one window (转移 to a window) get a small index of their own.
Also joins the branches that 0003, 0004 and 0005 started.

The indexes are built with the table locked for writes: on a database holding a
long history of tickets, upgrade outside the halls' opening hours.

Revision ID: 0006
Revises: 0003, 0004, 0005
Create Date: 2026-12-04 18:00:00
"""

# Needs a stop (or the halls closed): the queue index rebuild locks the tickets table.

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = ("0003", "0004", "0005")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_index("ix_tickets_queue")
        batch_op.create_index(
            "ix_tickets_queue", ["hall_id", "status", "service_id", "priority", "queued_at", "id"]
        )
        batch_op.create_index(
            "ix_tickets_targeted",
            ["target_window_id", "status"],
            postgresql_where=sa.text("target_window_id IS NOT NULL"),
            sqlite_where=sa.text("target_window_id IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_index("ix_tickets_targeted")
        batch_op.drop_index("ix_tickets_queue")
        batch_op.create_index("ix_tickets_queue", ["hall_id", "status", "service_id", "queued_at"])
