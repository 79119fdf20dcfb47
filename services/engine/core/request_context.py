"""What the logs say about the request being served: its id, the client, the caller.

Set by the request log middleware (services/engine/logs.py) for each HTTP request; the
caller is noted by ``deps.get_principal`` once known. A mutable object in a context
variable: whatever task a dependency runs in, it writes into the request's own.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class RequestContext:
    request_id: str
    client: str
    # "device:kiosk:12", "user:manager:3": kind, role and id, never a name.
    caller: str | None = None


CURRENT: ContextVar[RequestContext | None] = ContextVar("jiaohao_request", default=None)


def note_caller(kind: str, role: str, caller_id: int) -> None:
    """The request's caller, once authenticated (for its log lines)."""
    context = CURRENT.get()
    if context is not None:
        context.caller = f"{kind}:{role}:{caller_id}"
