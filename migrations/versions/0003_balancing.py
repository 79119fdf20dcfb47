"""balancing: window service roles, hall tidal rules, tidal states and change log

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22 02:10:00
"""

# Safe online: new tables, NOT NULL columns with constant defaults (no rewrite on PostgreSQL 11+).

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Existing links stay primary; existing halls have no tidal rules.
    with op.batch_alter_table("window_services") as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), nullable=False, server_default="primary")
        )
    with op.batch_alter_table("halls") as batch_op:
        batch_op.add_column(
            sa.Column("tidal", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    op.create_table(
        "tidal_states",
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("service_id", ID, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("calm_since", WHEN, nullable=True),
        sa.Column("changed_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_tidal_states_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_tidal_states_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("hall_id", "service_id", name=op.f("pk_tidal_states")),
    )
    op.create_table(
        "tidal_changes",
        sa.Column("id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("service_id", ID, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("wait_minutes", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_tidal_changes_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_tidal_changes_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tidal_changes")),
    )
    op.create_index("ix_tidal_changes_hall_at", "tidal_changes", ["hall_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_tidal_changes_hall_at", table_name="tidal_changes")
    op.drop_table("tidal_changes")
    op.drop_table("tidal_states")
    with op.batch_alter_table("halls") as batch_op:
        batch_op.drop_column("tidal")
    with op.batch_alter_table("window_services") as batch_op:
        batch_op.drop_column("role")
