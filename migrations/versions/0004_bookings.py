"""bookings: booking settings, slot counters, bookings, partners, nonces, webhooks

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-22 01:30:00
"""

# Safe online: new tables and their indexes only; old engines ignore them.

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("secret_salt", sa.String(length=64), nullable=False),
        sa.Column("webhook_url", sa.String(length=500), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["halls.id"], name=op.f("fk_partners_hall_id_halls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("hall_id", "name", name=op.f("uq_partners_hall_id")),
        sa.UniqueConstraint("key_id", name=op.f("uq_partners_key_id")),
    )
    op.create_table(
        "partner_nonces",
        sa.Column("partner_id", ID, nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_nonces_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", "nonce", name=op.f("pk_partner_nonces")),
    )
    op.create_index(op.f("ix_partner_nonces_seen_at"), "partner_nonces", ["seen_at"])
    op.create_table(
        "booking_configs",
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_booking_configs_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("hall_id", name=op.f("pk_booking_configs")),
    )
    op.create_table(
        "booking_slots",
        sa.Column("id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("service_id", ID, nullable=False),
        sa.Column("slot_date", sa.Date(), nullable=False),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_booking_slots_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_booking_slots_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_slots")),
        sa.UniqueConstraint("service_id", "starts_at", name=op.f("uq_booking_slots_service_id")),
    )
    op.create_table(
        "bookings",
        sa.Column("id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("service_id", ID, nullable=False),
        sa.Column("partner_id", ID, nullable=True),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("slot_date", sa.Date(), nullable=False),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("person_hash", sa.String(length=64), nullable=False),
        sa.Column("person_day_key", sa.String(length=64), nullable=True),
        sa.Column("id_tail", sa.String(length=4), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("phone_tail", sa.String(length=4), nullable=True),
        sa.Column("ticket_id", ID, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("checked_in_at", WHEN, nullable=True),
        sa.Column("cancelled_at", WHEN, nullable=True),
        sa.Column("no_show_at", WHEN, nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["halls.id"], name=op.f("fk_bookings_hall_id_halls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_bookings_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_bookings_partner_id_partners"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_bookings_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("hall_id", "code", name="uq_bookings_code"),
        sa.UniqueConstraint(
            "hall_id", "slot_date", "person_day_key", name="uq_bookings_person_day"
        ),
    )
    op.create_index("ix_bookings_day", "bookings", ["hall_id", "slot_date", "status"])
    op.create_index("ix_bookings_person", "bookings", ["hall_id", "person_hash", "status"])
    op.create_index("ix_bookings_ticket", "bookings", ["ticket_id"])
    op.create_table(
        "webhook_cursors",
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_webhook_cursors_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("hall_id", name=op.f("pk_webhook_cursors")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("partner_id", ID, nullable=False),
        sa.Column("hall_id", ID, nullable=False),
        sa.Column("dedupe_key", sa.String(length=100), nullable=False),
        sa.Column("event_type", sa.String(length=48), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("delivered_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_webhook_deliveries_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
            name=op.f("fk_webhook_deliveries_hall_id_halls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "partner_id", "dedupe_key", name=op.f("uq_webhook_deliveries_partner_id")
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_cursors")
    op.drop_index("ix_bookings_ticket", table_name="bookings")
    op.drop_index("ix_bookings_person", table_name="bookings")
    op.drop_index("ix_bookings_day", table_name="bookings")
    op.drop_table("bookings")
    op.drop_table("booking_slots")
    op.drop_table("booking_configs")
    op.drop_index(op.f("ix_partner_nonces_seen_at"), table_name="partner_nonces")
    op.drop_table("partner_nonces")
    op.drop_table("partners")
