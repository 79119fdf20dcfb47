"""The engine's logs: a request id for every request, JSON lines on request, nothing secret.

- Every HTTP request gets an id: the proxy's ``X-Request-ID`` when it sends a sane one
  (letters, digits, ``.-_:``, at most 64), else a new one; the answer carries it back
  in ``X-Request-ID``, and every line logged while serving the request names it.
- ``JIAOHAO_LOG_FORMAT=json``: one JSON object per line (``ts``, ``level``, ``logger``,
  ``msg``, and while serving a request ``request_id``, ``client``, ``caller``); the
  access line (logger ``jiaohao.access``) adds the method, the route template (never
  the path with its codes and query), the hall, the status and the duration. The
  client address is the one the engine trusts (``deps.get_client_address``: the
  proxy's forwarded address behind it).
- Never a token, password, ID number or phone number: nothing reads bodies into a log,
  and every line, in either format, is scrubbed of what looks like one (a bearer or
  device token, a ``token=`` query, a JWT, an 18-character ID number, an 11-digit
  mobile number) before it is written: uvicorn logs a WebSocket's path with its query,
  where a screen may send its token.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.engine.core.request_context import CURRENT, RequestContext
from services.engine.deps import get_client_address

ACCESS = logging.getLogger("jiaohao.access")
REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

# What a token or a password looks like in a line, and the words that announce one.
_SECRETS = [
    # Authorization headers, bearer tokens, device tokens, JWTs.
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"\bjhd_[A-Za-z0-9_-]+"), "jhd_[redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), "[jwt redacted]"),
    # Secrets in a query string or a form: token=, access_token=, password=, secret=.
    (
        re.compile(r"(?i)\b((?:access_)?token|password|secret|signature|sig)=[^&\s\"']+"),
        r"\1=[redacted]",
    ),
]
_SECRET_WORDS = ("bearer", "jhd_", "eyj", "token=", "password=", "secret=", "sig")
# A resident ID number (18 characters, the last a digit or X) and a mobile number.
_NUMBERS = [
    (re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])"), "[id number]"),
    (re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)"), "[phone]"),
]
_LONG_NUMBER = re.compile(r"\d{11}")


def scrub(text: str) -> str:
    """The text without anything that looks like a token, password, ID or phone number.

    The patterns run only on a line that holds one of their words or a run of 11
    digits: an ordinary access line costs two quick searches, not six patterns.
    """
    lowered = text.lower()
    if any(word in lowered for word in _SECRET_WORDS):
        for pattern, replacement in _SECRETS:
            text = pattern.sub(replacement, text)
    if _LONG_NUMBER.search(text):
        for pattern, replacement in _NUMBERS:
            text = pattern.sub(replacement, text)
    return text


class ScrubFilter(logging.Filter):
    """Scrubs a record's message, its arguments (one by one: formatters such as
    uvicorn's access formatter read them by position) and its traceback, in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: scrub(v) if isinstance(v, str) else v for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the request's id, client and caller when serving one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        context = CURRENT.get()
        if context is not None:
            line["request_id"] = context.request_id
            line["client"] = context.client
            if context.caller:
                line["caller"] = context.caller
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            line.update(http)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = scrub(record.exc_text)
        return json.dumps(line, ensure_ascii=False, default=str)


class RequestLog:
    """Gives each HTTP request its id (and its log lines their context); in JSON
    mode with the access log on, one access line per request."""

    def __init__(self, app: ASGIApp, access_lines: bool) -> None:
        self.app = app
        self.access_lines = access_lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        client = await get_client_address(Request(scope))
        context = RequestContext(request_id, client)
        token = CURRENT.set(context)
        started = time.perf_counter()
        status = 500
        header = (REQUEST_ID_HEADER.encode(), request_id.encode())

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if self.access_lines:
                route = route_of(scope)
                http: dict[str, Any] = {
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "ms": round(1000 * (time.perf_counter() - started), 1),
                }
                hall = scope.get("path_params", {}).get("hall")
                if isinstance(hall, str):
                    http["hall"] = hall[:64]
                if route == "other":
                    http["path"] = scrub(scope["path"][:200])
                ACCESS.info("%s %s %s", scope["method"], route, status, extra={"http": http})
            CURRENT.reset(token)


def route_of(scope: Scope) -> str:
    """The route template that answered (``other``: no route, e.g. a 404 or a file)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "other"


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER.encode():
            sent = value.decode("latin-1")
            if _SANE_ID.match(sent):
                return sent
            break
    return uuid.uuid4().hex


def uvicorn_log_config(log_format: str, level: str) -> dict[str, Any]:
    """uvicorn's logging set-up with every line scrubbed; in JSON mode, JSON lines for
    uvicorn's and the engine's own loggers (the access lines are the engine's)."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"scrub": {"()": "services.engine.logs.ScrubFilter"}}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("scrub")
    if log_format == "json":
        for formatter in config["formatters"]:
            config["formatters"][formatter] = {"()": "services.engine.logs.JsonFormatter"}
        # The engine's loggers (and jiaohao.access) through the same JSON handler.
        config["root"] = {"handlers": ["default"], "level": level.upper()}
        config["loggers"]["uvicorn"]["propagate"] = False
    return config
