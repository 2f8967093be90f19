"""Binding the endpoint table to handlers: decode, authenticate, authorize, encode, errors.

Each handler receives a Call and must call `call.authorize(...)` with the parameters its
scope expression needs before it returns; dispatch refuses (500, logged) a handler that
forgot, so no endpoint can go unchecked (protocol.md, "Auth").
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from clients.protocol.endpoints import ENDPOINTS, PARAM_PATTERNS, SLASHED_PARAMS, Endpoint
from clients.protocol.errors import ApiError, ErrorBody, ErrorCode, RequestInfo
from clients.protocol.scopes import ScopeSet, describe, render, unsatisfied
from clients.protocol.times import format_ms

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


@dataclass
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
        if self.endpoint.scopes is None:
            return
        expr = render(self.endpoint.scopes, {**self.params, **params})
        missing = unsatisfied(expr, self.caller.scopes)
        if missing is not None:
            who = (
                f"client `{self.caller.client_id}`"
                if self.caller.client_id
                else "an anonymous caller"
            )
            raise ApiError(
                ErrorCode.insufficient_scopes,
                f"{who} lacks scopes for {self.endpoint.name}.\n\nMissing:\n\n{describe(missing)}"
                f"\n\nRequired:\n\n{describe(expr)}",
            )


_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}
_encoder = msgspec.json.Encoder()


def _decoder(kind: Any) -> msgspec.json.Decoder[Any]:
    if kind not in _DECODERS:
        _DECODERS[kind] = msgspec.json.Decoder(kind)
    return _DECODERS[kind]


def _aiohttp_route(endpoint: Endpoint) -> str:
    def param(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("clientId", "name"):
            return "{" + name + ":.+}"
        if name in SLASHED_PARAMS:
            # aiohttp matches the path with %2F still encoded; match_info holds it decoded.
            return "{" + name + ":[^/]+(?:/|%2[Ff])[^/]+}"
        return "{" + name + "}"

    return f"/api/{endpoint.service}/v1" + re.sub(r"<([A-Za-z]+)>", param, endpoint.route)


def _check_params(endpoint: Endpoint, match_info: dict[str, str]) -> dict[str, str]:
    params = {}
    for name in endpoint.params:
        value = match_info[name]
        if not re.fullmatch(PARAM_PATTERNS[name], value):
            raise ApiError(
                ErrorCode.invalid_request_arguments,
                f"URL parameter `{name}` given as {value!r} must match {PARAM_PATTERNS[name]}",
            )
        params[name] = value
    return params


def error_response(
    request: web.Request, error: ApiError, params: dict[str, str], name: str, payload: Any = None
) -> web.Response:
    detail = "".join(f"\n\n{key}: {value}" for key, value in error.details.items())
    footer = f"\n\n---\n\n* method:     {name}\n* errorCode:  {error.code}\n* statusCode: {error.status}\n* time:       {format_ms(int(time.time() * 1000))}"
    body = ErrorBody(
        code=error.code.value,
        message=error.message + detail + footer,
        request_info=RequestInfo(
            method=name, params=params, payload=payload, time=format_ms(int(time.time() * 1000))
        ),
    )
    headers = {"www-authenticate": "hawk"} if error.status == 401 else None
    return web.Response(
        status=error.status,
        body=_encoder.encode(body),
        content_type="application/json",
        headers=headers,
    )


def _decode_body(endpoint: Endpoint, raw: bytes) -> tuple[Any, Any]:
    """The body as plain JSON (for error reports) and as the endpoint's request type."""
    if endpoint.input is None:
        return None, None
    if not raw:
        raise ApiError(ErrorCode.malformed_payload, "this endpoint needs a JSON body")
    try:
        payload = msgspec.json.decode(raw)
    except msgspec.DecodeError as error:
        raise ApiError(
            ErrorCode.malformed_payload, f"the body is not valid JSON: {error}"
        ) from None
    try:
        return payload, _decoder(endpoint.input).decode(raw)
    except msgspec.ValidationError as error:
        raise ApiError(ErrorCode.input_validation_error, f"the body is invalid: {error}") from None


def _bound(
    endpoint: Endpoint, handler: Handler
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def serve(request: web.Request) -> web.StreamResponse:
        params: dict[str, str] = dict(request.match_info)
        payload: Any = None
        try:
            params = _check_params(endpoint, dict(request.match_info))
            raw = await request.read()
            caller = ANONYMOUS
            if endpoint.scopes is not None:  # health endpoints: no authentication at all
                caller = await request.app[AUTHENTICATOR].authenticate(request, raw)
            payload, body = _decode_body(endpoint, raw)
            call = Call(request, endpoint, params, body, caller, authorized=endpoint.scopes is None)
            result = await handler(call)
            if not call.authorized:
                log.error("handler of %s returned without checking scopes", endpoint.name)
                raise ApiError(ErrorCode.internal_server_error, "the server did not check scopes")
        except ApiError as error:
            return error_response(request, error, params, endpoint.name, payload)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204)
        return web.Response(body=_encoder.encode(result), content_type="application/json")

    return serve


def bind(app: web.Application) -> None:
    """Add a route per endpoint; refuse to start when an endpoint has no handler."""
    unbound = [endpoint.name for endpoint in ENDPOINTS if endpoint.name not in HANDLERS]
    if unbound:
        raise RuntimeError(f"endpoints without a handler: {', '.join(unbound)}")
    for endpoint in ENDPOINTS:
        app.router.add_route(
            endpoint.method,
            _aiohttp_route(endpoint),
            _bound(endpoint, HANDLERS[endpoint.name]),
            name=endpoint.name,
        )
