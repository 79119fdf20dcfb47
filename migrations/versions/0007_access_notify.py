"""access notify: PostgreSQL announces changes to devices, staff accounts and halls

Engine processes keep the callers and halls they have checked (auth/cache.py)
until the database announces a change on the ``jiaohao_access`` channel. These
triggers make the announcement whoever writes: the engine, the CLI, psql. The
columns that move on their own (a device's last_seen_at, a hall's event_seq)
announce nothing. SQLite has no such channel: there the engine keeps nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Table -> the column whose changes alone are not announced.
_TABLES = {"devices": "last_seen_at", "users": None, "halls": "event_seq"}


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
    for table, moving in _TABLES.items():
        changed = (
            f"(to_jsonb(OLD) - '{moving}') IS DISTINCT FROM (to_jsonb(NEW) - '{moving}')"
            if moving
            else "OLD IS DISTINCT FROM NEW"
        )
        op.execute(
            f"CREATE TRIGGER {table}_access_update AFTER UPDATE ON {table} "
            f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION jiaohao_access_changed()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_access_delete AFTER DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION jiaohao_access_changed()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER {table}_access_update ON {table}")
        op.execute(f"DROP TRIGGER {table}_access_delete ON {table}")
    op.execute("DROP FUNCTION jiaohao_access_changed()")
