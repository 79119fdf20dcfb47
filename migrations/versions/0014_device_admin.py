"""device administration: which window a keypad or evaluation pad serves

- ``device_assignments``: a keypad or evaluation pad behind a gateway (named as the
  gateway's health report names it, ``keypad:3``) assigned from the manager's devices
  page to another window than the gateway's file says; the gateway follows it
  (docs/gateway.md). No row: the file holds.

Adding, revoking, renaming and re-issuing devices use the existing ``devices`` table
(its changes are announced on ``jiaohao_access`` since 0007).

Safe online: new tables and new nullable columns; old engines ignore them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "device_assignments",
        sa.Column("id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("gateway_id", ID, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("assigned_at", WHEN, nullable=False),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_device_assignments_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["gateway_id"],
            ["devices.id"],
            name=op.f("fk_device_assignments_gateway_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_assignments")),
        sa.UniqueConstraint("gateway_id", "key", name=op.f("uq_device_assignments_gateway_id")),
    )
    with op.batch_alter_table("device_assignments") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_assignments_hall_id"), ["hall_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("device_assignments") as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_assignments_hall_id"))
    op.drop_table("device_assignments")
