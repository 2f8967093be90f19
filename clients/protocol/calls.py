"""What every server of an endpoint table does the same way (protocol.md, "Endpoints").

Pure: the route pattern a web framework binds, the check of path parameters, decoding a body
into the endpoint's request type, the Taskcluster error body, and the 403 message. The queue
and the scheduler each bind their table with these.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from .endpoints import PARAM_PATTERNS, SLASHED_PARAMS, Endpoint
from .errors import ApiError, ErrorBody, ErrorCode, RequestInfo
from .scopes import ScopeExpr, ScopeSet, describe, render, unsatisfied
from .times import format_ms

__all__ = [
    "check_params",
    "check_scopes",
    "decode_body",
    "decode_request",
    "encode",
    "error_body",
    "request_payload",
    "route_pattern",
    "signed_host_and_port",
]

_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}
# Compiled once: `re.fullmatch(text, ...)` looks the pattern up in re's cache at every call.
_PARAM_RES = {name: re.compile(pattern) for name, pattern in PARAM_PATTERNS.items()}
_encoder = msgspec.json.Encoder()
encode = _encoder.encode


def _decoder(kind: Any) -> msgspec.json.Decoder[Any]:
    if kind not in _DECODERS:
        _DECODERS[kind] = msgspec.json.Decoder(kind)
    return _DECODERS[kind]


def route_pattern(endpoint: Endpoint) -> str:
    """The route in aiohttp's `{name}` syntax, under `/api/<service>/v1`."""

    def param(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "clientId":
            return "{" + name + ":.+}"
        if name == "name":  # any character, so that a control character is a 400, not a 404
            return "{name:[\\s\\S]+}"
        if name == "workerPoolId":
            # Only as %2F, as Taskcluster's clients send it: worker routes continue with
            # `/<workerGroup>/<workerId>`, so a bare slash would make them ambiguous.
            return "{" + name + ":[^/]+%2[Ff][^/]+}"
        if name in SLASHED_PARAMS:
            # aiohttp matches the path with %2F still encoded; match_info holds it decoded.
            return "{" + name + ":[^/]+(?:/|%2[Ff])[^/]+}"
        return "{" + name + "}"

    return f"/api/{endpoint.service}/v1" + re.sub(r"<([A-Za-z]+)>", param, endpoint.route)


def check_params(endpoint: Endpoint, match_info: dict[str, str]) -> dict[str, str]:
    params = {}
    for name in endpoint.params:
        value = match_info[name]
        if _PARAM_RES[name].fullmatch(value) is None:
            raise ApiError(
                ErrorCode.invalid_request_arguments,
                f"URL parameter `{name}` given as {value!r} must match {PARAM_PATTERNS[name]}",
            )
        params[name] = value
    return params


def decode_body(endpoint: Endpoint, raw: bytes) -> tuple[Any, Any]:
    """The body as plain JSON (for error reports) and as the endpoint's request type."""
    body = decode_request(endpoint, raw)
    return request_payload(endpoint, raw), body


def decode_request(endpoint: Endpoint, raw: bytes) -> Any:
    """The body as the endpoint's request type: one pass over a body that fits; a body that
    does not is read again to tell invalid JSON (400 MalformedPayload) from JSON that does not
    fit the type (400 InputValidationError with the `$.path`)."""
    if endpoint.input is None:
        return None
    if not raw:
        raise ApiError(ErrorCode.malformed_payload, "this endpoint needs a JSON body")
    decoder = _decoder(endpoint.input)
    try:
        return decoder.decode(raw)
    except msgspec.DecodeError:
        pass  # a ValidationError too: the typed pass may stop before a syntax error further on
    try:
        msgspec.json.decode(raw)
    except msgspec.DecodeError as error:
        raise ApiError(
            ErrorCode.malformed_payload, f"the body is not valid JSON: {error}"
        ) from None
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as error:
        raise ApiError(ErrorCode.input_validation_error, f"the body is invalid: {error}") from None


def request_payload(endpoint: Endpoint, raw: bytes) -> Any:
    """The body as plain JSON, as error bodies report it (`requestInfo.payload`); None for an
    endpoint without a body or a body that is not JSON."""
    if endpoint.input is None or not raw:
        return None
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None


def error_body(
    error: ApiError, params: dict[str, str], name: str, payload: Any, now_ms: int
) -> bytes:
    detail = "".join(f"\n\n{key}: {value}" for key, value in error.details.items())
    footer = f"\n\n---\n\n* method:     {name}\n* errorCode:  {error.code}\n* statusCode: {error.status}\n* time:       {format_ms(now_ms)}"
    body = ErrorBody(
        code=error.code.value,
        message=error.message + detail + footer,
        request_info=RequestInfo(
            method=name, params=params, payload=payload, time=format_ms(now_ms)
        ),
    )
    return encode(body)


def check_scopes(
    endpoint: Endpoint, client_id: str, held: ScopeSet, params: dict[str, object]
) -> None:
    """403 InsufficientScopes naming what is missing, unless `held` satisfies the endpoint."""
    if endpoint.scopes is None or held.holds_everything:
        return  # nothing to render: `*` satisfies whatever the expression becomes
    expr: ScopeExpr = render(endpoint.scopes, params)
    missing = unsatisfied(expr, held)
    if missing is not None:
        who = f"client `{client_id}`" if client_id else "an anonymous caller"
        raise ApiError(
            ErrorCode.insufficient_scopes,
            f"{who} lacks scopes for {endpoint.name}.\n\nMissing:\n\n{describe(missing)}"
            f"\n\nRequired:\n\n{describe(expr)}",
        )


def signed_host_and_port(
    host: str, forwarded_port: str | None, forwarded_proto: str | None, scheme: str
) -> tuple[str, int]:
    """Host and port as the client signed them, honouring a proxy's X-Forwarded-* headers."""
    name, _, port_text = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not name:
        name, port_text = host, ""
    proto = forwarded_proto or scheme
    if forwarded_port and forwarded_port.isdigit():
        return name, int(forwarded_port)
    if port_text.isdigit():
        return name, int(port_text)
    return name, 443 if proto == "https" else 80
