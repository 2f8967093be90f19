"""The client's errors: one hierarchy, one class per HTTP status the protocol answers.

Every answer of 400 or more becomes an ``ApiCallError`` subclass carrying the status, the
server's error code and its message (protocol.md, "Errors"). Failures below HTTP (refused
connections, resets, timeouts) become ``TransportError`` once the retries are spent.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "ApiCallError",
    "AuthenticationFailed",
    "ClientError",
    "ConfigurationError",
    "InputError",
    "InputTooLarge",
    "InsufficientScopes",
    "MethodNotAllowed",
    "RequestConflict",
    "ResourceExpired",
    "ResourceNotFound",
    "ResponseError",
    "ServerError",
    "TransportError",
    "error_from_answer",
]


class ClientError(Exception):
    """Base of every error the client raises."""


class ConfigurationError(ClientError):
    """The client cannot be built: no rootUrl, or half a set of credentials."""


class TransportError(ClientError):
    """The server could not be reached or stopped answering, after every retry."""

    def __init__(self, endpoint: str, attempts: int, cause: BaseException) -> None:
        super().__init__(f"{endpoint}: no answer after {attempts} attempt(s): {cause!r}")
        self.endpoint = endpoint
        self.attempts = attempts


class ResponseError(ClientError):
    """A 2xx answer that does not have the shape of the endpoint's response type."""


class ApiCallError(ClientError):
    """The server answered with an error status.

    ``code`` is Taskcluster's error code (``ResourceNotFound``, ...), ``message`` the server's
    explanation (its footer included), ``body`` the whole decoded error body when it was JSON.
    """

    def __init__(
        self, endpoint: str, status: int, code: str, message: str, body: Any = None
    ) -> None:
        super().__init__(f"{endpoint}: {status} {code}: {_explanation(message)}")
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.message = message
        self.body = body

    @property
    def explanation(self) -> str:
        """The message without the server's `---` footer."""
        return _explanation(self.message)


class InputError(ApiCallError):
    """400: the request is malformed or breaks a rule; the message names the bad field."""


class AuthenticationFailed(ApiCallError):
    """401: the credentials are unknown, expired or the signature does not match."""


class InsufficientScopes(ApiCallError):
    """403: the caller is known but lacks the scopes the endpoint needs."""


class ResourceNotFound(ApiCallError):
    """404: no such task, run, group, queue, worker or client."""


class MethodNotAllowed(ApiCallError):
    """405: the route exists with another method."""


class RequestConflict(ApiCallError):
    """409: the change is not allowed in the current state (deadline passed, run resolved...)."""


class ResourceExpired(ApiCallError):
    """410: the resource existed but has expired."""


class InputTooLarge(ApiCallError):
    """413: the body is larger than the server accepts."""


class ServerError(ApiCallError):
    """5xx after every retry: a server bug or an outage."""


_BY_STATUS: dict[int, type[ApiCallError]] = {
    400: InputError,
    401: AuthenticationFailed,
    403: InsufficientScopes,
    404: ResourceNotFound,
    405: MethodNotAllowed,
    409: RequestConflict,
    410: ResourceExpired,
    413: InputTooLarge,
}


def _explanation(message: str) -> str:
    return message.split("\n\n---\n", 1)[0].strip()


def error_from_answer(endpoint: str, status: int, raw: bytes) -> ApiCallError:
    """The typed error for an error answer, whatever its body holds."""
    kind = ServerError if status >= 500 else _BY_STATUS.get(status, ApiCallError)
    try:
        body = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        body = None
    if isinstance(body, dict):
        code, message = str(body.get("code", "")), str(body.get("message", ""))
    else:
        code, message = "", raw.decode("utf-8", "replace")[:2000]
    return kind(endpoint, status, code, message, body)
