"""Domain refusals and their RFC 9457 problem+json form.

Services raise :class:`Refusal` subclasses with a stable ``code``; the app turns
them into ``application/problem+json`` answers. Nothing here imports FastAPI so
pure rules may raise them too.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Refusal(Exception):
    """A clear, expected refusal of a request (never a 500)."""

    status: ClassVar[int] = 409
    code: ClassVar[str] = "conflict"
    title: ClassVar[str] = "Request refused"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(Refusal):
    status = 404
    code = "not_found"
    title = "Not found"


class Unauthorized(Refusal):
    status = 401
    code = "unauthorized"
    title = "Authentication required"


class Forbidden(Refusal):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class PriorityNotAllowed(Forbidden):
    code = "priority_not_allowed"
    title = "This caller may not issue tickets of this class"


class ValidationFailed(Refusal):
    status = 422
    code = "validation_error"
    title = "Invalid request"


class OutsideServiceHours(Refusal):
    code = "outside_service_hours"
    title = "Outside service hours"


class QuotaExhausted(Refusal):
    code = "quota_exhausted"
    title = "No tickets left (号已取完)"


class DuplicateOpenTicket(Refusal):
    code = "duplicate_open_ticket"
    title = "This person already holds an open ticket for the service"


class ServiceNotServed(Refusal):
    code = "service_not_served"
    title = "Window does not serve this service"


class InvalidTicketState(Refusal):
    code = "invalid_ticket_state"
    title = "Ticket is not in a state that allows this action"


class TicketNotWaiting(InvalidTicketState):
    code = "ticket_not_waiting"
    title = "Ticket is not waiting"


class TicketNotHeld(InvalidTicketState):
    code = "ticket_not_held"
    title = "The ticket is not held"


class HeldByOtherWindow(Refusal):
    code = "held_by_other_window"
    title = "The ticket is held at another window"


class NothingHeld(Refusal):
    code = "nothing_held"
    title = "No ticket is held at this window"


class OutcomeRequired(Refusal):
    status = 422
    code = "outcome_required"
    title = "This hall records the outcome of every case"


class NotSignedIn(Forbidden):
    code = "not_signed_in"
    title = "Sign in at this window first"


class StaffOnly(Forbidden):
    code = "staff_only"
    title = "Only a staff account signs in at a window"


class WindowPaused(Refusal):
    code = "window_paused"
    title = "Window is paused"


class WindowClosed(Refusal):
    code = "window_closed"
    title = "Window is closed"


class WindowBusy(Refusal):
    code = "window_busy"
    title = "Window already has a ticket in hand"


class WindowIdle(Refusal):
    code = "window_has_no_ticket"
    title = "Window has no ticket in hand"


class QueueEmpty(Refusal):
    status = 404
    code = "queue_empty"
    title = "No ticket is waiting for this window"


class AlreadyRated(Refusal):
    code = "already_rated"
    title = "This ticket has already been rated"


class RatingNeedsReason(Refusal):
    status = 422
    code = "rating_needs_reason"
    title = "A bad rating (差评) needs a reason or a comment"


class RatingClosed(Refusal):
    code = "rating_closed"
    title = "The time to rate this ticket has passed"


class CaseStepRefused(Refusal):
    code = "case_step_out_of_order"
    title = "This step does not follow the bad-review case's current state"


class AppealRefused(Refusal):
    code = "appeal_not_allowed"
    title = "This bad review cannot be appealed now"


class AlertResolved(Refusal):
    code = "alert_resolved"
    title = "This alert was already resolved"


class ServiceInactive(Refusal):
    code = "service_unavailable"
    title = "Service is not offered"


class HallConfigInvalid(Refusal):
    status = 422
    code = "hall_config_invalid"
    title = "Hall configuration is invalid"


class SettingsInvalid(Refusal):
    """A change on the settings page (大厅设置) that ``hall apply`` would refuse too:
    ``detail`` in Chinese, ``problems`` [{field, message}] one per refused field."""

    status = 422
    code = "settings_invalid"
    title = "Hall settings refused"


class BatchAborted(Refusal):
    """The batch this request was written in failed as a whole (engine stopping, database
    failure): the request may be tried again."""

    status = 503
    code = "batch_aborted"
    title = "Interrupted, please try again"


class DatabaseUnavailable(Refusal):
    """The database cannot be reached or used (down, restarting, out of connections):
    nothing was done, the request may be tried again (/readyz says what is wrong)."""

    status = 503
    code = "database_unavailable"
    title = "Database unavailable, please try again"
