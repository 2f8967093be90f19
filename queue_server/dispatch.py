"""Binding the endpoint table to handlers: decode, authenticate, authorize, encode, errors.

Each handler receives a Call and must call `call.authorize(...)` with the parameters its
scope expression needs before it returns; dispatch refuses (500, logged) a handler that
forgot, so no endpoint can go unchecked (protocol.md, "Auth").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from clients.protocol.calls import (
    check_params,
    check_scopes,
    decode_request,
    encode,
    error_body,
    request_payload,
    route_pattern,
)
from clients.protocol.endpoints import ENDPOINTS, Endpoint
from clients.protocol.errors import ApiError, ErrorCode
from clients.protocol.scopes import ScopeSet

from .auth import Authenticator, Caller

__all__ = ["AUTHENTICATOR", "Call", "Handler", "bind", "error_response", "handles"]

log = logging.getLogger("infrax.queue")

AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
Result = msgspec.Struct | web.StreamResponse | None
Handler = Callable[["Call"], Awaitable[Result]]
H = TypeVar("H", bound=Handler)

HANDLERS: dict[str, Handler] = {}
ANONYMOUS = Caller("", ScopeSet([]))


def handles(name: str) -> Callable[[H], H]:
    """Register the handler of the endpoint named `name`."""

    def register(handler: H) -> H:
        assert name not in HANDLERS, f"two handlers for {name}"
        HANDLERS[name] = handler
        return handler

    return register


@dataclass(slots=True)
class Call:
    request: web.Request
    endpoint: Endpoint
    params: dict[str, str]
    body: Any
    caller: Caller
    authorized: bool = field(default=False)

    @property
    def app(self) -> web.Application:
        return self.request.app

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def authorize(self, **params: object) -> None:
        """Check the endpoint's scope expression, rendered with the route and given params."""
        self.authorized = True
        check_scopes(
            self.endpoint, self.caller.client_id, self.caller.scopes, {**self.params, **params}
        )


def error_response(
    request: web.Request, error: ApiError, params: dict[str, str], name: str, payload: Any = None
) -> web.Response:
    headers = {"www-authenticate": "hawk"} if error.status == 401 else None
    return web.Response(
        status=error.status,
        body=error_body(error, params, name, payload, int(time.time() * 1000)),
        content_type="application/json",
        headers=headers,
    )


def _bound(
    endpoint: Endpoint, handler: Handler
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    authenticated = endpoint.scopes is not None  # health endpoints: no authentication at all

    async def serve(request: web.Request) -> web.StreamResponse:
        params: dict[str, str] = dict(request.match_info)
        raw = b""
        decoded = False
        try:
            params = check_params(endpoint, params)
            raw = await request.read()
            caller = ANONYMOUS
            if authenticated:
                caller = await request.app[AUTHENTICATOR].authenticate(request, raw)
            body = decode_request(endpoint, raw)
            decoded = True
            call = Call(request, endpoint, params, body, caller, not authenticated)
            result = await handler(call)
            if not call.authorized:
                log.error("handler of %s returned without checking scopes", endpoint.name)
                raise ApiError(ErrorCode.internal_server_error, "the server did not check scopes")
        except ApiError as error:
            # The body is reported once it was accepted (a handler's refusal), not before.
            payload = request_payload(endpoint, raw) if decoded else None
            return error_response(request, error, params, endpoint.name, payload)
        # Structs first: StreamResponse is a MutableMapping, whose isinstance goes through abc.
        if isinstance(result, msgspec.Struct):
            return web.Response(body=encode(result), content_type="application/json")
        if result is None:
            return web.Response(status=204)
        return result

    return serve


def bind(app: web.Application) -> None:
    """Add a route per endpoint; refuse to start when an endpoint has no handler."""
    unbound = [endpoint.name for endpoint in ENDPOINTS if endpoint.name not in HANDLERS]
    if unbound:
        raise RuntimeError(f"endpoints without a handler: {', '.join(unbound)}")
    for endpoint in ENDPOINTS:
        app.router.add_route(
            endpoint.method,
            route_pattern(endpoint),
            _bound(endpoint, HANDLERS[endpoint.name]),
            name=endpoint.name,
        )
