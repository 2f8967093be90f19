"""An OpenAPI 3.1 document generated from the endpoint table and the msgspec types (pure).

Every endpoint of the table becomes one operation under `/api/<service>/v1<route>`, with its
path and query parameters, request and response schemas (msgspec's JSON Schema components),
the Taskcluster error body for every error status, its scope expression (`x-scopes`) and
stability (`x-stability`). A websocket endpoint is a `GET` answering `101`, its frames named
under `x-websocket` (protocol.md, "OpenAPI").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from .endpoints import PARAM_PATTERNS, Endpoint
from .errors import STATUS_OF, ErrorBody, ErrorCode
from .stream import ClientFrame, ServerFrame

__all__ = ["QUERY_SCHEMAS", "openapi_document", "openapi_path"]

REF = "#/components/schemas/{name}"
QUERY_SCHEMAS: dict[str, dict[str, Any]] = {
    "continuationToken": {"type": "string", "description": "opaque; from the previous page"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1000},
    "prefix": {"type": "string", "description": "only ids starting with this"},
    "quarantined": {"type": "string", "enum": ["true", "false"]},
}
_ERRORS = sorted({STATUS_OF[code] for code in ErrorCode})
_PARAM = re.compile(r"<([A-Za-z]+)>")
HAWK = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": "Hawk (SHA-256) with Taskcluster's ext: certificate and authorizedScopes;"
    " a `bewit` query parameter works for GET (protocol.md, Authentication).",
}


def openapi_path(endpoint: Endpoint) -> str:
    """The endpoint's path in OpenAPI syntax: `/api/queue/v1/task/{taskId}`."""
    return f"/api/{endpoint.service}/v1" + _PARAM.sub(r"{\1}", endpoint.route)


def _ecma(value: Any) -> Any:
    """JSON Schema regexes are ECMA 262: our `\\Z` (end of text) is written `$` there."""
    if isinstance(value, dict):
        return {
            k: (v.replace("\\Z", "$") if k == "pattern" and isinstance(v, str) else _ecma(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_ecma(item) for item in value]
    return value


def _schemas(endpoints: Iterable[Endpoint]) -> tuple[dict[Any, Any], dict[str, Any]]:
    """A schema per type used by the endpoints (plus the error body and stream frames)."""
    kinds: list[Any] = [ErrorBody, ClientFrame, ServerFrame]
    for endpoint in endpoints:
        kinds += [kind for kind in (endpoint.input, endpoint.output) if kind is not None]
    unique = list(dict.fromkeys(kinds))
    found, components = msgspec.json.schema_components(unique, ref_template=REF)
    return dict(zip(unique, found, strict=True)), components


def _parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    path = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": PARAM_PATTERNS[name]},
            "description": "percent-encoded, `/` included (as %2F)",
        }
        for name in endpoint.params
    ]
    query = [
        {"name": name, "in": "query", "schema": QUERY_SCHEMAS.get(name, {"type": "string"})}
        for name in endpoint.query
    ]
    return path + query


def _responses(endpoint: Endpoint, schema_of: Mapping[Any, Any]) -> dict[str, Any]:
    responses: dict[str, Any]
    if endpoint.websocket:
        responses = {"101": {"description": "Switching Protocols: the websocket is open"}}
    elif endpoint.output is None:
        responses = {"204": {"description": "Done; no body"}}
    else:
        body = {"application/json": {"schema": schema_of[endpoint.output]}}
        responses = {"200": {"description": "OK", "content": body}}
    error = {"application/json": {"schema": schema_of[ErrorBody]}}
    for status in _ERRORS:
        responses[str(status)] = {"description": "Taskcluster error body", "content": error}
    return responses


def _operation(endpoint: Endpoint, schema_of: Mapping[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.name,
        "summary": endpoint.summary,
        "tags": [endpoint.service],
        "parameters": _parameters(endpoint),
        "responses": _responses(endpoint, schema_of),
        "x-stability": endpoint.stability,
    }
    if endpoint.stability == "deprecated":
        operation["deprecated"] = True
    if endpoint.scopes is None:
        operation["security"] = []  # no authentication at all
    else:
        operation["security"] = [{}, {"hawk": []}]  # anonymous, or Hawk-signed
        operation["x-scopes"] = endpoint.scopes
    if endpoint.input is not None and not endpoint.websocket:
        content = {"application/json": {"schema": schema_of[endpoint.input]}}
        operation["requestBody"] = {"required": True, "content": content}
    if endpoint.websocket:
        operation["x-websocket"] = {
            "clientFrames": schema_of[ClientFrame],
            "serverFrames": schema_of[ServerFrame],
        }
    return operation


def openapi_document(
    endpoints: Iterable[Endpoint],
    *,
    title: str,
    version: str,
    server_url: str | None = None,
    extra_paths: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints`` (and of ``extra_paths``, given as is)."""
    endpoints = list(endpoints)
    schema_of, components = _schemas(endpoints)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        item = paths.setdefault(openapi_path(endpoint), {})
        item[endpoint.method.lower()] = _operation(endpoint, schema_of)
    for path, item in (extra_paths or {}).items():
        paths.setdefault(path, {}).update(item)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Taskcluster Queue v1 (and the Auth v1 subset) as infrax serves it;"
            " protocol.md is the contract in prose.",
        },
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {"hawk": HAWK}},
    }
    if server_url is not None:
        document["servers"] = [{"url": server_url}]
    return _ecma(document)  # type: ignore[no-any-return]
