"""Binding an endpoint table to handlers: decode, authenticate, authorize, encode, errors.

As in the queue (protocol.md, "Scope expressions per endpoint"): every handler must call
`call.authorize(...)` before it returns, and a service refuses to start with an endpoint of its
table unbound. Callers of endpoints with scopes are verified by the queue (verify.py); the
verifier is found in the application under the key the table was made with.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from ..protocol.calls import (
    check_params,
    check_scopes,
    decode_body,
    encode,
    error_body,
    route_pattern,
)
from ..protocol.endpoints import Endpoint
from ..protocol.errors import ApiError, ErrorCode
from ..protocol.scopes import ScopeSet
from .verify import Caller, QueueVerifier

__all__ = ["ANONYMOUS", "Call", "HandlerTable", "errors"]

log = logging.getLogger("infrax.serving")

Result = msgspec.Struct | web.StreamResponse | None
Handler = Callable[["Call"], Awaitable[Result]]
H = TypeVar("H", bound=Handler)

ANONYMOUS = Caller("", ScopeSet([]))


@dataclass
class Call:
    request: web.Request
    endpoint: Endpoint
    params: dict[str, str]
    body: Any
    raw: bytes
    caller: Caller
    authorized: bool = field(default=False)

    @property
    def app(self) -> web.Application:
        return self.request.app

    def authorize(self, **params: object) -> None:
        self.authorized = True
        check_scopes(
            self.endpoint, self.caller.client_id, self.caller.scopes, {**self.params, **params}
        )


def _error(error: ApiError, params: dict[str, str], name: str, payload: Any) -> web.Response:
    return web.Response(
        status=error.status,
        body=error_body(error, params, name, payload, int(time.time() * 1000)),
        content_type="application/json",
        headers={"www-authenticate": "hawk"} if error.status == 401 else None,
    )


class HandlerTable:
    """The handlers of one endpoint table; `bind` adds a route per endpoint to an app."""

    def __init__(self, endpoints: Sequence[Endpoint], verifier: web.AppKey[QueueVerifier]) -> None:
        self.endpoints = tuple(endpoints)
        self._verifier = verifier
        self._handlers: dict[str, Handler] = {}

    def handles(self, name: str) -> Callable[[H], H]:
        assert any(e.name == name for e in self.endpoints), f"{name} is not in the table"

        def register(handler: H) -> H:
            assert name not in self._handlers, f"two handlers for {name}"
            self._handlers[name] = handler
            return handler

        return register

    def bind(self, app: web.Application) -> None:
        unbound = [e.name for e in self.endpoints if e.name not in self._handlers]
        if unbound:
            raise RuntimeError(f"endpoints without a handler: {', '.join(unbound)}")
        for endpoint in self.endpoints:
            app.router.add_route(
                endpoint.method,
                route_pattern(endpoint),
                self._bound(endpoint, self._handlers[endpoint.name]),
                name=endpoint.name,
            )

    def _bound(
        self, endpoint: Endpoint, handler: Handler
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            params: dict[str, str] = dict(request.match_info)
            payload: Any = None
            try:
                params = check_params(endpoint, dict(request.match_info))
                raw = await request.read()
                payload, body = decode_body(endpoint, raw)
                caller = ANONYMOUS
                if endpoint.scopes is not None:
                    caller = await request.app[self._verifier].authenticate(request, raw)
                call = Call(request, endpoint, params, body, raw, caller, endpoint.scopes is None)
                result = await handler(call)
                if not call.authorized:
                    log.error("handler of %s returned without checking scopes", endpoint.name)
                    raise ApiError(
                        ErrorCode.internal_server_error, "the server did not check scopes"
                    )
            except ApiError as error:
                return _error(error, params, endpoint.name, payload)
            if isinstance(result, web.StreamResponse):
                return result
            if result is None:
                return web.Response(status=204)
            return web.Response(body=encode(result), content_type="application/json")

        return serve


@web.middleware
async def errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Everything outside the handlers answers with Taskcluster's error body too."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        error = ApiError(ErrorCode.input_too_large, "the request body is too large")
    except web.HTTPMethodNotAllowed:
        error = ApiError(ErrorCode.method_not_allowed, f"{request.method} is not allowed here")
    except web.HTTPNotFound:
        error = ApiError(ErrorCode.resource_not_found, f"no endpoint at {request.path}")
    except web.HTTPException:
        raise
    except Exception:
        incident = str(uuid.uuid4())
        log.exception("internal error", extra={"event": "internal_error", "incident_id": incident})
        error = ApiError(ErrorCode.internal_server_error, f"internal error; incidentId: {incident}")
    return _error(error, dict(request.match_info), "", None)
