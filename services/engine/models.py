"""Every table, imported once so Alembic and the app see the whole schema."""

from services.engine.alerts.models import Alert
from services.engine.audit.models import AuditEntry
from services.engine.auth.models import Device, User
from services.engine.balancing.models import TidalChange, TidalServiceState
from services.engine.bookings.models import Booking, BookingConfig, BookingSlot
from services.engine.core.db import Base
from services.engine.devices.models import DeviceHealthRecord, HardwareAssignment
from services.engine.evaluations.models import Evaluation
from services.engine.events.models import HallEvent
from services.engine.halls.models import Hall, Service
from services.engine.partners.models import Partner, PartnerNonce, WebhookCursor, WebhookDelivery
from services.engine.regions.models import Region
from services.engine.reviews.models import ReviewCase, ReviewSettingsRow, ReviewStep
from services.engine.statistics.models import (
    StatsDay,
    StatsMonthHeat,
    StatsMonthHist,
    StatsMonthVolume,
    StatsMonthWindow,
    StatsTicketFact,
    StatsWindowFact,
)
from services.engine.statistics.push_models import StatsPush
from services.engine.tickets.models import Ticket, TicketCounter, TicketEvent
from services.engine.windows.models import Window, WindowService

__all__ = [
    "Alert",
    "AuditEntry",
    "Base",
    "Booking",
    "BookingConfig",
    "BookingSlot",
    "Device",
    "DeviceHealthRecord",
    "Evaluation",
    "Hall",
    "HallEvent",
    "HardwareAssignment",
    "Partner",
    "PartnerNonce",
    "Region",
    "ReviewCase",
    "ReviewSettingsRow",
    "ReviewStep",
    "Service",
    "StatsDay",
    "StatsMonthHeat",
    "StatsMonthHist",
    "StatsMonthVolume",
    "StatsMonthWindow",
    "StatsPush",
    "StatsTicketFact",
    "StatsWindowFact",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "TidalChange",
    "TidalServiceState",
    "User",
    "WebhookCursor",
    "WebhookDelivery",
    "Window",
    "WindowService",
]
