"""figures pushed by village stations to their district (jiaohao stats push)

- ``stats_pushes``: per remote hall and business day, the receipt of the figures a
  station pushed (when first and last stored, from which station device, how many
  tickets and window lines, the digest that makes a re-push of the same figures a
  no-op). The figures themselves go into ``stats_ticket_facts`` / ``stats_window_facts``
  (0013) as the remote hall's facts, with negative synthetic ticket ids.

The new device kind ``station`` needs no schema (``devices.kind`` is a string).

Safe online: new tables and new nullable columns; old engines ignore them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 14:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stats_pushes",
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("device_id", ID, nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("windows", sa.Integer(), nullable=False),
        sa.Column("first_at", WHEN, nullable=False),
        sa.Column("changed_at", WHEN, nullable=False),
        sa.Column("pushes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_stats_pushes_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_stats_pushes_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("hall_id", "business_date", name=op.f("pk_stats_pushes")),
    )


def downgrade() -> None:
    op.drop_table("stats_pushes")
