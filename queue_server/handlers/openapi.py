"""`GET /api/queue/v1/openapi.json`: the OpenAPI document of every route this server serves
(protocol.md, "openapi"). No authentication, like the health endpoints."""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec
from aiohttp import web

from clients.protocol.endpoints import ENDPOINTS
from clients.protocol.openapi import openapi_document

from ..core.blob_urls import BLOB_ROUTE
from ..dispatch import Call, handles
from ..keys import SETTINGS
from .health import server_version

__all__ = ["BLOB_PATHS", "document"]

_SIGNED = [
    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "expires", "in": "query", "required": True, "schema": {"type": "string"}},
    {"name": "signature", "in": "query", "required": True, "schema": {"type": "string"}},
]
_BLOB_ANSWERS = {
    "401": {"description": "the signature is missing, wrong or expired"},
    "404": {"description": "no such object"},
}
# The blob routes are not endpoints of the table: they are the signed, expiring URLs that
# artifact and object calls hand out (like presigned S3 URLs), used without credentials.
BLOB_PATHS: dict[str, dict[str, Any]] = {
    BLOB_ROUTE + "{name}": {
        "get": {
            "operationId": "getBlob",
            "summary": "Download an object's bytes through a signed URL.",
            "tags": ["blobs"],
            "security": [],
            "parameters": _SIGNED,
            "responses": {"200": {"description": "the bytes"}, **_BLOB_ANSWERS},
        },
        "put": {
            "operationId": "putBlob",
            "summary": "Upload an object's bytes through a signed URL.",
            "tags": ["blobs"],
            "security": [],
            "parameters": [
                *_SIGNED,
                {"name": "uploadId", "in": "query", "required": True, "schema": {"type": "string"}},
            ],
            "requestBody": {"content": {"application/octet-stream": {}}},
            "responses": {"200": {"description": "stored"}, **_BLOB_ANSWERS},
        },
    }
}


@cache
def document() -> dict[str, Any]:
    """The document without `servers`; built once, the schemas take a few milliseconds."""
    return openapi_document(
        ENDPOINTS, title="infrax queue", version=server_version(), extra_paths=BLOB_PATHS
    )


@handles("openapi")
async def openapi(call: Call) -> web.Response:
    root_url = call.app[SETTINGS].public_url or f"{call.request.scheme}://{call.request.host}"
    described = {**document(), "servers": [{"url": root_url.rstrip("/")}]}
    return web.Response(body=msgspec.json.encode(described), content_type="application/json")
