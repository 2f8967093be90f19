"""Error codes of the protocol and the HTTP status each maps to (protocol.md, "Errors")."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from msgspec import Struct

__all__ = [
    "STATUS_OF",
    "ApiError",
    "ErrorBody",
    "ErrorCode",
    "RequestInfo",
    "conflict",
    "input_error",
    "not_found",
]


class ErrorCode(StrEnum):
    malformed_payload = "MalformedPayload"
    invalid_request_arguments = "InvalidRequestArguments"
    input_validation_error = "InputValidationError"
    input_error = "InputError"
    authentication_failed = "AuthenticationFailed"
    insufficient_scopes = "InsufficientScopes"
    resource_not_found = "ResourceNotFound"
    method_not_allowed = "MethodNotAllowed"
    no_matching_method = "NoMatchingMethod"
    request_conflict = "RequestConflict"
    resource_expired = "ResourceExpired"
    input_too_large = "InputTooLarge"
    internal_server_error = "InternalServerError"
    insufficient_storage = "InsufficientStorage"
    too_many_sessions = "TooManySessions"
    worker_unavailable = "WorkerUnavailable"
    blob_store_unavailable = "BlobStoreUnavailable"


STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.malformed_payload: 400,
    ErrorCode.invalid_request_arguments: 400,
    ErrorCode.input_validation_error: 400,
    ErrorCode.input_error: 400,
    ErrorCode.authentication_failed: 401,
    ErrorCode.insufficient_scopes: 403,
    ErrorCode.resource_not_found: 404,
    ErrorCode.method_not_allowed: 405,
    ErrorCode.no_matching_method: 406,
    ErrorCode.request_conflict: 409,
    ErrorCode.resource_expired: 410,
    ErrorCode.input_too_large: 413,
    ErrorCode.internal_server_error: 500,
    ErrorCode.insufficient_storage: 507,
    ErrorCode.too_many_sessions: 429,
    ErrorCode.worker_unavailable: 503,
    ErrorCode.blob_store_unavailable: 503,
}


class RequestInfo(Struct, kw_only=True):
    method: str
    params: dict[str, str]
    payload: Any
    time: str


class ErrorBody(Struct, kw_only=True, rename="camel"):
    code: str
    message: str
    request_info: RequestInfo


class ApiError(Exception):
    """An error the server answers with its code's status and Taskcluster's error body."""

    def __init__(self, code: ErrorCode, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return STATUS_OF[self.code]


def input_error(message: str, **details: Any) -> ApiError:
    return ApiError(ErrorCode.input_error, message, **details)


def not_found(message: str, **details: Any) -> ApiError:
    return ApiError(ErrorCode.resource_not_found, message, **details)


def conflict(message: str, **details: Any) -> ApiError:
    return ApiError(ErrorCode.request_conflict, message, **details)
