"""hall manager's dashboard (实时监控): alerts, the audit log, on-the-spot window changes

- ``alerts``: what needs a manager's eye (a service over its target wait, a window
  paused too long, a device offline or in error, a tidal recommendation, a new bad
  review), with when it opened and cleared, who acknowledged it and when, and how a
  tidal recommendation was resolved (accepted, dismissed). Kept for good.
- ``audit_log``: every change made from the manager's pages: who, what, before, after.
- ``users.last_login_at``: when the account last logged in (the accounts page shows it).
- ``windows.services_adjusted_at`` and ``windows.planned_services``: a window's services
  were changed on the spot, and what it served before (the hall file's plan), so that
  ``jiaohao hall apply`` can tell (docs/manage.md).

Safe online: new tables and new nullable columns; old engines ignore them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("last_login_at", WHEN, nullable=True))
    with op.batch_alter_table("windows") as batch_op:
        batch_op.add_column(sa.Column("services_adjusted_at", WHEN, nullable=True))
        batch_op.add_column(sa.Column("planned_services", sa.JSON(), nullable=True))
    op.create_table(
        "alerts",
        sa.Column("id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("opened_at", WHEN, nullable=False),
        sa.Column("cleared_at", WHEN, nullable=True),
        sa.Column("acknowledged_at", WHEN, nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["halls.id"], name=op.f("fk_alerts_hall_id_halls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.create_index("ix_alerts_hall_key", ["hall_id", "key"], unique=False)
        batch_op.create_index("ix_alerts_hall_opened", ["hall_id", "opened_at"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=True),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["halls.id"], name=op.f("fk_audit_log_hall_id_halls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.create_index("ix_audit_log_hall_at", ["hall_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("alerts")
    with op.batch_alter_table("windows") as batch_op:
        batch_op.drop_column("planned_services")
        batch_op.drop_column("services_adjusted_at")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("last_login_at")
