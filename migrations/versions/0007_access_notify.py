"""access notify: PostgreSQL announces changes to devices, accounts, halls and services

Engine processes keep the callers, halls and services they have read (auth/cache.py)
until the database announces a change on the ``jiaohao_access`` channel. These
triggers make the announcement whoever writes: the engine, the CLI, psql. The
columns that move on their own (a device's last_seen_at, a hall's event_seq)
are left out of the watched columns, so they announce nothing; a later
migration that adds a column to these tables must add it to its trigger (a
test checks). Services have no such column: any change to them is announced,
a service added too (the cache holds a hall's whole list). An engine goes live
with its cache only once it has found all these triggers enabled. SQLite has
no such channel: there the engine keeps nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:00:00
"""

# Safe online: a function and triggers; running engines find them within 15 s (access cache on).

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Table -> the columns whose updates are announced (all but those that move on their own).
WATCHED = {
    "devices": ("id", "hall_id", "kind", "name", "token_hash", "active", "created_at"),
    "users": ("id", "hall_id", "username", "password_hash", "role", "active", "created_at"),
    "halls": (
        "id",
        "code",
        "name",
        "timezone",
        "hours",
        "rules",
        "tidal",
        "notice",
        "created_at",
        "updated_at",
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # pg_notify is sent at commit, once per transaction and payload.
    op.execute(
        """
        CREATE FUNCTION jiaohao_access_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('jiaohao_access', TG_TABLE_NAME);
            RETURN NULL;
        END $$
        """
    )
    for table, columns in WATCHED.items():
        # UPDATE OF: the columns named in the statement's SET, without comparing rows.
        op.execute(
            f"CREATE TRIGGER {table}_access_update AFTER UPDATE OF {', '.join(columns)} "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION jiaohao_access_changed()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_access_delete AFTER DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION jiaohao_access_changed()"
        )
    op.execute(
        "CREATE TRIGGER services_access_change "
        "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON services "
        "FOR EACH STATEMENT EXECUTE FUNCTION jiaohao_access_changed()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER services_access_change ON services")
    for table in WATCHED:
        op.execute(f"DROP TRIGGER {table}_access_update ON {table}")
        op.execute(f"DROP TRIGGER {table}_access_delete ON {table}")
    op.execute("DROP FUNCTION jiaohao_access_changed()")
