"""RFC 9457 problem+json answers for every refusal, and the exception handlers."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from services.engine.core.db import database_unavailable
from services.engine.core.errors import DatabaseUnavailable, Refusal

log = logging.getLogger(__name__)
# What a client waits before trying again while the database is away (seconds).
DATABASE_RETRY_AFTER = 5

PROBLEM_JSON = "application/problem+json"
PROBLEM_SCHEMA = "Problem"

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


class Problem(BaseModel):
    """An RFC 9457 problem: every refusal's body. Extension members (``errors``,
    ``retry_after_seconds``, ...) may follow the standard ones."""

    model_config = ConfigDict(extra="allow", title=PROBLEM_SCHEMA)

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None


# What each status means on this engine's routes, as the OpenAPI describes it.
_MEANINGS = {
    401: "No valid bearer token or partner signature",
    403: "The caller may not do this (in this hall)",
    404: "The hall, or what the path names, does not exist",
    409: "Refused by the hall's rules; `code` says which",
    413: "The request body is too large",
    422: "Invalid request: `errors` says where",
    429: "Too many requests; `Retry-After` says when to come back",
    503: "The database is unavailable (`database_unavailable`) or the write was "
    "interrupted (`batch_aborted`): nothing was done, try again after `Retry-After`",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries: each status answered as problem+json."""
    schema = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}
    return {
        status: {
            "description": _MEANINGS.get(status, "Refused"),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for status in sorted(statuses)
    }


Call = TypeVar("Call", bound=Callable[..., Any])


def refuses(*statuses: int) -> Callable[[Call], Call]:
    """Mark a dependency with the problem statuses it can answer; every route that
    depends on it declares them in the OpenAPI (declare_problems)."""

    def mark(call: Call) -> Call:
        call.__dict__["problem_statuses"] = frozenset(statuses)
        return call

    return mark


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


def problem_statuses(route: APIRoute) -> set[int]:
    """The problem answers a route can give, from what it is made of: every route
    validates (422); a body can be too large (413); a path names something that may
    not exist (404); a write on a hall's things may break its rules (409); the rest
    comes from its dependencies (``refuses``)."""
    statuses = {422}
    if route.body_field is not None:
        statuses.add(413)
    if "{" in route.path:
        statuses.add(404)
        if (route.methods or set()) - {"GET", "HEAD"}:
            statuses.add(409)
    for sub in _dependencies(route.dependant):
        statuses |= getattr(sub.call, "problem_statuses", frozenset())
    return statuses


def declare_problems(router: APIRouter) -> APIRouter:
    """Declare on each of the router's routes the problem answers it can give (before
    it is included). What a route declares itself is kept; running twice changes nothing."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            route.responses = {**problem_responses(*problem_statuses(route)), **route.responses}
    return router


def install_problem_docs(app: FastAPI) -> None:
    """The OpenAPI document holds the Problem schema that the declared answers name."""

    build = app.openapi  # FastAPI's own, which keeps what it built in app.openapi_schema

    def openapi() -> dict[str, Any]:
        document = build()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        if PROBLEM_SCHEMA not in schemas:
            schemas[PROBLEM_SCHEMA] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
    extra_headers: Mapping[str, str] | None = None,
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
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    headers.update(extra_headers or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method some route takes at this path. Starlette's 405 names only the first
    route that matched the path, and a path is often served by several (GET and POST)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


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
        headers = dict(exc.headers or {})  # Starlette's own, passed on
        if exc.status_code == 405:  # Allow: the methods the path takes
            headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        return problem(
            exc.status_code,
            code,
            code.replace("_", " ").capitalize(),
            str(exc.detail),
            request.url.path,
            extra_headers=headers,
        )
