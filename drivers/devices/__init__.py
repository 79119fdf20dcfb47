"""Async device APIs: retries, timeouts, one worker thread per port, health."""

from .bus import BusCounters, EvaluationPad, Keypad, KeypadBus, LedBoard
from .events import DeviceEvent, EventSubscription, HealthChanged, KeypadPressed, RatingPressed
from .hid_pad import HidEvaluationPad, list_hid_devices
from .printer import TicketPrinter

__all__ = [
    "BusCounters",
    "DeviceEvent",
    "EvaluationPad",
    "EventSubscription",
    "HealthChanged",
    "HidEvaluationPad",
    "Keypad",
    "KeypadBus",
    "KeypadPressed",
    "LedBoard",
    "RatingPressed",
    "TicketPrinter",
    "list_hid_devices",
]
