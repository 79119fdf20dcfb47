"""RFC 9457 problem+json answers for every refusal, and the exception handlers."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.engine.core.db import database_unavailable
from services.engine.core.errors import DatabaseUnavailable, Refusal

log = logging.getLogger(__name__)
# What a client waits before trying again while the database is away (seconds).
DATABASE_RETRY_AFTER = 5

PROBLEM_JSON = "application/problem+json"

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://jiaohao.dev/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    # Extension members never replace the standard ones (status, code, ...).
    body.update({k: v for k, v in (extra or {}).items() if v is not None and k not in body})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def _refusal(request: Request, exc: Refusal) -> JSONResponse:
        response = problem(exc.status, exc.code, exc.title, exc.detail, request.url.path, exc.extra)
        retry = exc.extra.get("retry_after_seconds")
        if retry is not None:  # a 429 (or 503) says when to come back, in whole seconds
            response.headers["Retry-After"] = str(max(1, math.ceil(retry)))
        return response

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        reason = database_unavailable(exc)
        if reason is None:
            raise exc  # not the database being away: a failure like any other
        log.warning("%s %s: %s: %r", request.method, request.url.path, reason, exc)
        response = problem(
            DatabaseUnavailable.status,
            DatabaseUnavailable.code,
            DatabaseUnavailable.title,
            f"{reason}; nothing was done",
            request.url.path,
        )
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    # A database outage answers 503 problem+json on every request, never a bare 500.
    for failure in (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError):
        app.add_exception_handler(failure, _database)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        detail = (
            "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
            or "invalid request"
        )
        return problem(
            422, "validation_error", "Invalid request", detail, request.url.path, {"errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return problem(
            exc.status_code,
            code,
            code.replace("_", " ").capitalize(),
            str(exc.detail),
            request.url.path,
        )
