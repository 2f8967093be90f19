"""The OpenAPI document the queue serves: valid OpenAPI 3.1, exactly the served routes, and
each endpoint with its schemas and scopes from the table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from clients.client import Options, Queue, SyncClient
from clients.protocol.endpoints import ENDPOINTS, Endpoint
from clients.protocol.openapi import openapi_path
from tests.conftest import RunningQueue, queue_settings, start_queue, stop_queue

METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningQueue]:
    """One queue for the module: the document does not change between tests."""
    running, thread = start_queue(queue_settings(tmp_path_factory.mktemp("openapi")))
    try:
        yield running
    finally:
        stop_queue(running, thread)


@pytest.fixture(scope="module")
def document(queue: RunningQueue) -> dict[str, Any]:
    with SyncClient(Queue(Options(queue.root_url))) as anonymous:  # no credentials needed
        return anonymous.run(lambda q: q.openapi())


def served_routes(queue: RunningQueue) -> set[tuple[str, str]]:
    """(METHOD, path) of every API route of the running app, `{name:regex}` made `{name}`."""
    routes = set()
    for route in queue.runner.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/") and route.method != "HEAD":
            routes.add((route.method, re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)))
    return routes


def documented_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any], queue: RunningQueue) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": queue.root_url}]


def test_it_lists_exactly_the_served_routes(document: dict[str, Any], queue: RunningQueue) -> None:
    served, documented = served_routes(queue), documented_routes(document)
    assert served == documented, (
        f"served but undocumented: {sorted(served - documented)};"
        f" documented but not served: {sorted(documented - served)}"
    )
    assert len(served) >= len(ENDPOINTS)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_each_endpoint_has_its_schemas_and_scopes(
    document: dict[str, Any], endpoint: Endpoint
) -> None:
    operation = document["paths"][openapi_path(endpoint)][endpoint.method.lower()]
    assert operation["operationId"] == endpoint.name
    assert [p["name"] for p in operation["parameters"] if p["in"] == "path"] == list(
        endpoint.params
    )
    assert [p["name"] for p in operation["parameters"] if p["in"] == "query"] == list(
        endpoint.query
    )
    assert operation.get("x-scopes") == endpoint.scopes
    answers = operation["responses"]
    assert "403" in answers and "404" in answers
    if endpoint.websocket:
        assert "101" in answers and "x-websocket" in operation
    elif endpoint.output is None:
        assert "204" in answers
    else:
        assert answers["200"]["content"]["application/json"]["schema"]
    if endpoint.input is not None and not endpoint.websocket:
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert "$ref" in schema or "anyOf" in schema
    else:
        assert "requestBody" not in operation


def test_schemas_carry_the_types_rules(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    create = schemas["CreateTaskRequest"]
    assert set(create["required"]) == {"created", "deadline", "payload", "metadata"}
    assert create["additionalProperties"] is False  # requests forbid unknown fields
    assert create["properties"]["retries"] == {
        "type": "integer", "minimum": 0, "maximum": 49, "default": 5,
    }  # fmt: skip
    pattern = create["properties"]["taskGroupId"]["pattern"]
    assert pattern.endswith("$") and "\\Z" not in pattern  # ECMA 262 regexes
    assert re.fullmatch(pattern.rstrip("$"), "fN1r3dbWQ3e6mWkDB_3DZw")
