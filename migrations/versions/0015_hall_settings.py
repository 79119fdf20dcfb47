"""hall settings edited from the admin pages (大厅设置)

- ``halls.keep_adjustments``: the hall file's ``keep_adjustments`` kept with the hall,
  so that ``jiaohao hall export`` writes it back (the settings page and the file must
  not drift apart). Existing halls get false, what ``hall apply`` assumed when the
  file did not say; the next apply of a file that says true records it.
- PostgreSQL: ``halls_access_update`` made again so that it watches the new column too
  (as 0012 does; the access cache hears of every change of a hall).

Safe online: one new column with a default and a trigger made again; old engines ignore them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Columns that move on their own: not announced (as in 0012).
MOVING = {"halls": {"event_seq"}}


def _rewatch(table: str) -> None:
    """Make ``<table>_access_update`` again, watching every column the table has now
    but those that move on their own (copied from 0012, as it asks)."""
    columns = [c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)]
    watched = [c for c in columns if c not in MOVING[table]]
    op.execute(f"DROP TRIGGER IF EXISTS {table}_access_update ON {table}")
    op.execute(
        f"CREATE TRIGGER {table}_access_update AFTER UPDATE OF {', '.join(watched)} "
        f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION jiaohao_access_changed()"
    )


def upgrade() -> None:
    with op.batch_alter_table("halls") as batch_op:
        batch_op.add_column(
            sa.Column("keep_adjustments", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    if op.get_bind().dialect.name == "postgresql":
        _rewatch("halls")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS halls_access_update ON halls")
    with op.batch_alter_table("halls") as batch_op:
        batch_op.drop_column("keep_adjustments")
    if op.get_bind().dialect.name == "postgresql":
        _rewatch("halls")
