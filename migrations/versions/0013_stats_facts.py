"""statistics facts and rollups kept by the engine

- ``stats_days``: the hall-days whose facts are kept, with a version the triggers below
  bump on every change to the day's raw rows and the version the facts were computed
  from (clean when equal; the housekeeping recomputes the others).
- ``stats_ticket_facts``: one row per ticket of a closed day, its wait, handling and
  their 15-second buckets, its groupings (day, hour, weekday, week, month), service,
  window, clerk (an account number), priority, source, status, outcome, rating.
- ``stats_window_facts``: per window and day, open seconds, paused seconds by reason and
  signed-in seconds per clerk.
- ``stats_month_volumes``, ``stats_month_hist``, ``stats_month_heat``,
  ``stats_month_windows``: the facts of a hall's business month summed (counts; waits
  and handling in coarse buckets; the heatmap; cases and window times), rebuilt with
  the facts: a district's year reads these.
- ``ix_tickets_hall_day``: a hall's tickets of some days (today's figures are read raw).
- Triggers on ``tickets``, ``ticket_events``, ``evaluations`` and ``window_log``: a change
  to a day already rolled up bumps its ``stats_days.version`` (one indexed UPDATE that
  finds nothing for today's rows).

Safe online: new tables, an index and triggers; old engines ignore them (the triggers
only write stats_days, which old engines never read). On a large tickets table the
index is built while writes wait (seconds per million tickets).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 14:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

BUMP = "UPDATE stats_days SET version = version + 1"

POSTGRES_TRIGGERS = [
    f"""
    CREATE FUNCTION jiaohao_stats_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            {BUMP} WHERE hall_id = OLD.hall_id AND business_date = OLD.business_date;
            RETURN NULL;
        END IF;
        {BUMP} WHERE hall_id = NEW.hall_id AND business_date = NEW.business_date;
        IF TG_OP = 'UPDATE' THEN
            IF OLD.business_date <> NEW.business_date OR OLD.hall_id <> NEW.hall_id THEN
                {BUMP} WHERE hall_id = OLD.hall_id AND business_date = OLD.business_date;
            END IF;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION jiaohao_stats_by_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE changed bigint;
    BEGIN
        IF TG_OP = 'DELETE' THEN changed := OLD.ticket_id; ELSE changed := NEW.ticket_id; END IF;
        UPDATE stats_days d SET version = d.version + 1 FROM tickets t
            WHERE t.id = changed AND d.hall_id = t.hall_id
            AND d.business_date = t.business_date;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE FUNCTION jiaohao_stats_window_log() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {BUMP} WHERE hall_id = NEW.hall_id AND ends_at > NEW.at;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER stats_tickets AFTER INSERT OR UPDATE OR DELETE ON tickets "
    "FOR EACH ROW EXECUTE FUNCTION jiaohao_stats_ticket()",
    "CREATE TRIGGER stats_ticket_events AFTER INSERT OR UPDATE OR DELETE ON ticket_events "
    "FOR EACH ROW EXECUTE FUNCTION jiaohao_stats_by_ticket()",
    "CREATE TRIGGER stats_evaluations AFTER INSERT OR UPDATE OR DELETE ON evaluations "
    "FOR EACH ROW EXECUTE FUNCTION jiaohao_stats_by_ticket()",
    "CREATE TRIGGER stats_window_log AFTER INSERT OR UPDATE ON window_log "
    "FOR EACH ROW EXECUTE FUNCTION jiaohao_stats_window_log()",
]

BY_TICKET = (
    "WHERE (hall_id, business_date) = "
    "(SELECT hall_id, business_date FROM tickets WHERE id = {row}.ticket_id)"
)

SQLITE_TRIGGERS = {
    "stats_tickets_insert": "AFTER INSERT ON tickets BEGIN "
    f"{BUMP} WHERE hall_id = NEW.hall_id AND business_date = NEW.business_date; END",
    "stats_tickets_update": "AFTER UPDATE ON tickets BEGIN "
    f"{BUMP} WHERE hall_id = NEW.hall_id AND business_date = NEW.business_date; "
    f"{BUMP} WHERE hall_id = OLD.hall_id AND business_date = OLD.business_date "
    "AND (OLD.hall_id <> NEW.hall_id OR OLD.business_date <> NEW.business_date); END",
    "stats_tickets_delete": "AFTER DELETE ON tickets BEGIN "
    f"{BUMP} WHERE hall_id = OLD.hall_id AND business_date = OLD.business_date; END",
    **{
        f"stats_{table}_{op_name}": f"AFTER {op_name.upper()} ON {table} BEGIN "
        f"{BUMP} {BY_TICKET.format(row='OLD' if op_name == 'delete' else 'NEW')}; END"
        for table in ("ticket_events", "evaluations")
        for op_name in ("insert", "update", "delete")
    },
    **{
        f"stats_window_log_{op_name}": f"AFTER {op_name.upper()} ON window_log BEGIN "
        f"{BUMP} WHERE hall_id = NEW.hall_id AND ends_at > NEW.at; END"
        for op_name in ("insert", "update")
    },
}


def upgrade() -> None:
    op.create_table(
        "stats_days",
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rolled_version", sa.BigInteger(), server_default="-1", nullable=False),
        sa.Column("rolled_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["halls.id"], name=op.f("fk_stats_days_hall_id_halls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("hall_id", "business_date", name=op.f("pk_stats_days")),
    )
    op.create_index("ix_stats_days_hall_ends", "stats_days", ["hall_id", "ends_at"])
    op.create_table(
        "stats_ticket_facts",
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("window", sa.Integer(), nullable=True),
        sa.Column("staff", sa.BigInteger(), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("continuation", sa.Boolean(), nullable=False),
        sa.Column("ever_held", sa.Boolean(), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("wait_b", sa.Integer(), nullable=True),
        sa.Column("handling_s", sa.Float(), nullable=True),
        sa.Column("handling_b", sa.Integer(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_stats_ticket_facts_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_stats_ticket_facts")),
    )
    op.create_index(
        "ix_stats_ticket_facts_hall_day", "stats_ticket_facts", ["hall_id", "business_date"]
    )
    op.create_table(
        "stats_window_facts",
        sa.Column("id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("staff", sa.BigInteger(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_stats_window_facts_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_window_facts")),
    )
    op.create_index(
        "ix_stats_window_facts_hall_day", "stats_window_facts", ["hall_id", "business_date"]
    )
    month_tables: dict[str, list[sa.Column[Any]]] = {
        "stats_month_volumes": [
            sa.Column("service", sa.String(length=64), nullable=False),
            sa.Column("priority", sa.String(length=16), nullable=False),
            sa.Column("source", sa.String(length=16), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("outcome", sa.String(length=16), nullable=True),
            sa.Column("continuation", sa.Boolean(), nullable=False),
            sa.Column("ever_held", sa.Boolean(), nullable=False),
            sa.Column("n", sa.Integer(), nullable=False),
        ],
        "stats_month_hist": [
            sa.Column("measure", sa.String(length=8), nullable=False),
            sa.Column("dim", sa.String(length=8), nullable=False),
            sa.Column("name", sa.String(length=64), nullable=False),
            sa.Column("bucket", sa.Integer(), nullable=False),
            sa.Column("n", sa.Integer(), nullable=False),
            sa.Column("total", sa.Float(), nullable=False),
            sa.Column("largest", sa.Float(), nullable=False),
        ],
        "stats_month_heat": [
            sa.Column("service", sa.String(length=64), nullable=False),
            sa.Column("weekday", sa.SmallInteger(), nullable=False),
            sa.Column("hour", sa.SmallInteger(), nullable=False),
            sa.Column("n", sa.Integer(), nullable=False),
            sa.Column("total", sa.Float(), nullable=False),
        ],
        "stats_month_windows": [
            sa.Column("window", sa.Integer(), nullable=False),
            sa.Column("kind", sa.String(length=8), nullable=False),
            sa.Column("reason", sa.String(length=200), nullable=False),
            sa.Column("staff", sa.BigInteger(), nullable=True),
            sa.Column("n", sa.Integer(), nullable=False),
            sa.Column("seconds", sa.Float(), nullable=False),
        ],
    }
    for table, columns in month_tables.items():
        months = [sa.Column("bmonth", sa.Integer(), nullable=False)]
        if table in ("stats_month_volumes", "stats_month_hist"):
            months.append(sa.Column("month", sa.Integer(), nullable=False))
        op.create_table(
            table,
            sa.Column("id", ID, nullable=False),
            sa.Column("hall_id", ID, nullable=False),
            *months,
            *columns,
            sa.ForeignKeyConstraint(
                ["hall_id"],
                ["halls.id"],
                name=op.f(f"fk_{table}_hall_id_halls"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        )
        # The histograms are read one measure and dimension at a time.
        first = ["measure", "dim"] if table == "stats_month_hist" else []
        op.create_index(f"ix_{table}_hall_month", table, [*first, "hall_id", "bmonth"])
    op.create_index("ix_tickets_hall_day", "tickets", ["hall_id", "business_date"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_TRIGGERS:
            op.execute(statement)
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("tickets", "ticket_events", "evaluations", "window_log"):
            op.execute(f"DROP TRIGGER IF EXISTS stats_{table} ON {table}")
        for function in (
            "jiaohao_stats_ticket",
            "jiaohao_stats_by_ticket",
            "jiaohao_stats_window_log",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_tickets_hall_day", table_name="tickets")
    for table in ("stats_month_windows", "stats_month_heat", "stats_month_hist"):
        op.drop_table(table)
    op.drop_table("stats_month_volumes")
    op.drop_table("stats_window_facts")
    op.drop_table("stats_ticket_facts")
    op.drop_table("stats_days")
