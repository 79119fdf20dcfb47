"""The OpenAPI document declares, per route, the problem+json answers the route can give,
and the answers themselves are what it declares; a 405 names the allowed methods."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers.halls import Hall

API = "/api/v1/halls"
PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"

# Representative routes and the problem answers each must declare.
EXPECTED: list[tuple[str, str, set[int]]] = [
    ("post", "/api/v1/auth/token", {401, 413, 422, 429, 503}),
    ("get", "/api/v1/auth/me", {401, 403, 422, 503}),
    ("get", "/api/v1/halls/{hall}/tickets/{ticket_id}", {401, 403, 404, 422, 503}),
    ("post", "/api/v1/halls/{hall}/tickets", {401, 403, 404, 409, 413, 422, 503}),
    ("post", "/api/v1/halls/{hall}/windows/{number}/call-next", {401, 403, 404, 409, 422, 503}),
    (
        "post",
        "/api/v1/partner/halls/{hall}/bookings",
        {401, 403, 404, 409, 413, 422, 429, 503},
    ),
    ("get", "/readyz", {422, 503}),
]


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    spec: dict[str, Any] = answer.json()
    return spec


@pytest.mark.parametrize(("method", "path", "statuses"), EXPECTED)
async def test_routes_declare_their_problem_answers(
    document: dict[str, Any], method: str, path: str, statuses: set[int]
) -> None:
    responses = document["paths"][path][method]["responses"]
    declared = {int(status) for status in responses if status[0] in "45"}
    assert declared == statuses, f"{method.upper()} {path}"
    for status in statuses:
        content = responses[str(status)]["content"]
        assert content == {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}, status
        assert responses[str(status)]["description"]


async def test_every_error_answer_is_problem_json_never_httpvalidationerror(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    assert problem["additionalProperties"] is True
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" in responses, f"{method.upper()} {path}"
            for status, answer in responses.items():
                if status[0] in "45":
                    assert list(answer["content"]) == [PROBLEM_JSON], (method, path, status)


async def test_a_405_names_the_allowed_methods_as_problem_json(
    client: httpx.AsyncClient, hall: Hall
) -> None:
    answer = await client.delete(f"{API}/{hall.code}/tickets", headers=hall.h("admin"))
    assert answer.status_code == 405
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    allowed = {method.strip() for method in answer.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed and "DELETE" not in allowed
    assert answer.json()["code"] == "method_not_allowed"


def _conforms(value: Any, schema: dict[str, Any]) -> bool:
    kinds = {"string": str, "integer": int, "null": type(None), "object": dict, "array": list}
    options = schema.get("anyOf", [schema])
    return any(
        isinstance(value, kinds[option["type"]]) and not isinstance(value, bool)
        for option in options
    )


async def test_a_real_refusal_matches_the_declared_schema(
    client: httpx.AsyncClient, hall: Hall, document: dict[str, Any]
) -> None:
    path = "/api/v1/halls/{hall}/tickets/{ticket_id}"
    assert document["paths"][path]["get"]["responses"]["404"]["content"][PROBLEM_JSON]
    answer = await client.get(f"{API}/{hall.code}/tickets/999999", headers=hall.h("admin"))
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    body = answer.json()
    schema = document["components"]["schemas"]["Problem"]
    assert set(schema["required"]) <= set(body)
    for name, value in body.items():
        if name in schema["properties"]:
            assert _conforms(value, schema["properties"][name]), name
    assert body["status"] == 404 and body["code"] == "not_found"
