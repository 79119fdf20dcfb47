"""ratings loop (好差评闭环): rating content, bad-review cases, their steps, hall settings

- ``evaluations``: ``items`` (评价内容: 服务效率, 服务水平, 服务态度 levels) and
  ``content_version`` (the version of the rating form that asked them); an index on
  ``(hall_id, created_at)`` for the indicators of a period.
- ``review_settings``: a hall's 好差评 configuration (deadlines in working days, the
  reasons list, the code mapping preset, retention of the callback phone).
- ``review_cases``: one 差评工单 per level 1-2 rating: its state, the working-day
  deadlines, verification, appeal (申诉复核), rectification, the reply, the citizen's
  satisfaction with it, and the callback phone encrypted at rest (erased after
  retention). Nothing is ever deleted.
- ``review_steps``: every step of a case with who and when (the timeline), including
  each reading of the callback phone.

Safe online: new tables, new nullable columns and a new index; old engines ignore them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 11:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("evaluations") as batch_op:
        batch_op.add_column(sa.Column("items", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("content_version", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_evaluations_hall_created", ["hall_id", "created_at"])
    op.create_table(
        "review_settings",
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_review_settings_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("hall_id", name=op.f("pk_review_settings")),
    )
    op.create_table(
        "review_cases",
        sa.Column("id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("evaluation_id", ID, nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("window_id", sa.BigInteger(), nullable=True),
        sa.Column("staff_user_id", sa.BigInteger(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", WHEN, nullable=False),
        sa.Column("contact_due", sa.Date(), nullable=False),
        sa.Column("rectify_due", sa.Date(), nullable=False),
        sa.Column("contacted_at", WHEN, nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=True),
        sa.Column("invalid_reason", sa.Text(), nullable=True),
        sa.Column("appeal", sa.String(length=16), nullable=True),
        sa.Column("measure", sa.Text(), nullable=True),
        sa.Column("responsible", sa.String(length=100), nullable=True),
        sa.Column("rectified_at", WHEN, nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("replied_at", WHEN, nullable=True),
        sa.Column("publish_comment", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("satisfaction", sa.String(length=16), nullable=True),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.Column("overdue_at", WHEN, nullable=True),
        sa.Column("callback_phone", sa.Text(), nullable=True),
        sa.Column("phone_erased_at", WHEN, nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_review_cases_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name=op.f("fk_review_cases_evaluation_id_evaluations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_cases")),
        sa.UniqueConstraint("evaluation_id", name=op.f("uq_review_cases_evaluation_id")),
    )
    with op.batch_alter_table("review_cases") as batch_op:
        batch_op.create_index("ix_review_cases_hall_state", ["hall_id", "state"])
        batch_op.create_index("ix_review_cases_hall_opened", ["hall_id", "opened_at"])
    op.create_table(
        "review_steps",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("step", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["review_cases.id"],
            name=op.f("fk_review_steps_case_id_review_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_review_steps_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_steps")),
    )
    with op.batch_alter_table("review_steps") as batch_op:
        batch_op.create_index("ix_review_steps_case_at", ["case_id", "at"])


def downgrade() -> None:
    op.drop_table("review_steps")
    op.drop_table("review_cases")
    op.drop_table("review_settings")
    with op.batch_alter_table("evaluations") as batch_op:
        batch_op.drop_index("ix_evaluations_hall_created")
        batch_op.drop_column("content_version")
        batch_op.drop_column("items")
