"""Every table, imported once so Alembic and the app see the whole schema."""

from services.engine.auth.models import Device, User
from services.engine.core.db import Base
from services.engine.evaluations.models import Evaluation
from services.engine.events.models import HallEvent
from services.engine.halls.models import Hall, Service
from services.engine.tickets.models import Ticket, TicketCounter, TicketEvent
from services.engine.windows.models import Window, WindowService

__all__ = [
    "Base",
    "Device",
    "Evaluation",
    "Hall",
    "HallEvent",
    "Service",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "User",
    "Window",
    "WindowService",
]
