"""devices: health of hall devices as kiosks and gateways report it

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-23 10:00:00
"""

# Safe online: a new table only; old engines ignore it.

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "device_health",
        sa.Column("id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("reporter_id", ID, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("window", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("last_seen", WHEN, nullable=True),
        sa.Column("changed_at", WHEN, nullable=False),
        sa.Column("reported_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_device_health_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["devices.id"],
            name=op.f("fk_device_health_reporter_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_health")),
        sa.UniqueConstraint("hall_id", "reporter_id", "key", name=op.f("uq_device_health_hall_id")),
    )
    op.create_index(
        op.f("ix_device_health_reporter_id"), "device_health", ["reporter_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_device_health_reporter_id"), table_name="device_health")
    op.drop_table("device_health")
