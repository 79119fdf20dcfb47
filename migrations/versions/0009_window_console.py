"""window console: sign-in, the window log, hold and call back, the outcome of a case

- ``windows.staff_since``: when the clerk signed in at the window (签到).
- ``window_log``: every sign-in, sign-out, open, close, pause and resume, with who and
  when. Kept for good (statistics read months of it); the hall event outbox is pruned.
- ``tickets``: ``held_at``, ``hold_kind``, ``hold_reason`` (挂起) and ``held_seconds``
  (time on hold, left out of handling time); ``outcome`` (办理结果) of a finished case.
- ``ticket_events.staff_user_id``: the clerk signed in at the window when the step
  was taken (a keypad's presses are the clerk's).

Safe online: new nullable columns, a new table and new indexes; old engines ignore
them. On a large PostgreSQL ticket log the index build locks writes to ticket_events
for its duration: run it off-hours, or create the index CONCURRENTLY beforehand.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("windows") as batch_op:
        batch_op.add_column(sa.Column("staff_since", WHEN, nullable=True))
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.add_column(sa.Column("held_at", WHEN, nullable=True))
        batch_op.add_column(sa.Column("hold_kind", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("hold_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("held_seconds", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        # A window's held tickets (few at any time).
        batch_op.create_index(
            "ix_tickets_held",
            ["window_id"],
            unique=False,
            postgresql_where=sa.text("status = 'held'"),
            sqlite_where=sa.text("status = 'held'"),
        )
    with op.batch_alter_table("ticket_events") as batch_op:
        batch_op.add_column(sa.Column("staff_user_id", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_ticket_events_window_at", ["window_id", "at"], unique=False)
    op.create_table(
        "window_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("window_id", ID, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("staff_user_id", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["halls.id"], name=op.f("fk_window_log_hall_id_halls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["windows.id"],
            name=op.f("fk_window_log_window_id_windows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_window_log")),
    )
    with op.batch_alter_table("window_log") as batch_op:
        batch_op.create_index("ix_window_log_hall_at", ["hall_id", "at"], unique=False)
        batch_op.create_index("ix_window_log_window_at", ["window_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("window_log")
    with op.batch_alter_table("ticket_events") as batch_op:
        batch_op.drop_index("ix_ticket_events_window_at")
        batch_op.drop_column("staff_user_id")
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_index("ix_tickets_held")
        batch_op.drop_column("outcome")
        batch_op.drop_column("held_seconds")
        batch_op.drop_column("hold_reason")
        batch_op.drop_column("hold_kind")
        batch_op.drop_column("held_at")
    with op.batch_alter_table("windows") as batch_op:
        batch_op.drop_column("staff_since")
