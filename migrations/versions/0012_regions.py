"""region tree (行政区划): regions, halls.region_id, region accounts

- ``regions``: the tree city -> district -> town/street -> village/community, each named
  by its 行政区划 code (6, 9 or 12 digits), with its parent and its path of codes
  (``/330100/330106/``) for reading a subtree (services/engine/regions/rules.py).
- ``halls.region_id``: the region a hall serves; ``halls.remote``: the hall is a remote
  station (its own engine, e.g. a village on SQLite) registered here under its region
  so its daily figures can join the district's reports.
- ``users.region_id``: the region a region admin (``region_admin``) oversees.
- The access announcements (migration 0007): the update triggers of ``halls`` and
  ``users`` are made again with their new columns, and any change to ``regions``
  is announced, since a region admin's kept scope depends on it.

Safe online: new tables and new nullable columns; old engines ignore them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Columns that move on their own: their updates announce nothing (migration 0007).
MOVING = {"halls": {"event_seq"}, "users": {"last_login_at"}, "devices": {"last_seen_at"}}


def _rewatch(table: str) -> None:
    """Make ``<table>_access_update`` again, watching every column the table has now
    but those that move on their own. A later migration adding a column to halls, users
    or devices calls the same (copy it) so the new column is announced too."""
    columns = [c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)]
    watched = [c for c in columns if c not in MOVING[table]]
    op.execute(f"DROP TRIGGER IF EXISTS {table}_access_update ON {table}")
    op.execute(
        f"CREATE TRIGGER {table}_access_update AFTER UPDATE OF {', '.join(watched)} "
        f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION jiaohao_access_changed()"
    )


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_id", ID, nullable=True),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["regions.id"],
            name=op.f("fk_regions_parent_id_regions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions")),
        sa.UniqueConstraint("code", name=op.f("uq_regions_code")),
    )
    with op.batch_alter_table("regions") as batch_op:
        batch_op.create_index(batch_op.f("ix_regions_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_regions_path"), ["path"], unique=False)
    postgres = op.get_bind().dialect.name == "postgresql"
    # Plain ADD COLUMN, no copy of these busy tables. SQLite cannot add a reference to
    # a table after the fact (only by copying it): there the engine keeps it alone.
    for table in ("halls", "users"):
        reference = (
            [sa.ForeignKey("regions.id", name=f"fk_{table}_region_id_regions", ondelete="RESTRICT")]
            if postgres
            else []
        )
        op.add_column(table, sa.Column("region_id", ID, *reference, nullable=True))
    op.add_column(
        "halls", sa.Column("remote", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index("ix_halls_region_id", "halls", ["region_id"], unique=False)
    if postgres:
        _rewatch("halls")
        _rewatch("users")
        op.execute(
            "CREATE TRIGGER regions_access_change "
            "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON regions "
            "FOR EACH STATEMENT EXECUTE FUNCTION jiaohao_access_changed()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS regions_access_change ON regions")
    op.drop_index("ix_halls_region_id", table_name="halls")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("region_id")
    with op.batch_alter_table("halls") as batch_op:
        batch_op.drop_column("remote")
        batch_op.drop_column("region_id")
    if op.get_bind().dialect.name == "postgresql":
        _rewatch("halls")
        _rewatch("users")
    with op.batch_alter_table("regions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_regions_path"))
        batch_op.drop_index(batch_op.f("ix_regions_parent_id"))
    op.drop_table("regions")
