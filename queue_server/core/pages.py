"""Opaque continuation tokens and page limits (protocol.md, "Pagination")."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from clients.protocol.errors import ApiError, ErrorCode

__all__ = ["MAX_PAGE", "Page", "decode_token", "encode_token", "page_from_query"]

MAX_PAGE = 1000


class Page:
    """Where a listing starts (after `after`, a sort key) and how many rows it may return."""

    __slots__ = ("after", "limit")

    def __init__(self, after: list[object] | None, limit: int) -> None:
        self.after = after
        self.limit = limit

    def key(self, start: tuple[Any, ...]) -> tuple[Any, ...]:
        """The sort key to continue after, shaped like `start` (where a listing begins).

        A token whose values are not of the same types as `start` is a 400, not a 500.
        """
        if self.after is None:
            return start
        values = tuple(self.after)
        if len(values) != len(start) or any(
            type(value) is not type(first) for value, first in zip(values, start, strict=True)
        ):
            raise ApiError(ErrorCode.invalid_request_arguments, "`continuationToken` is not valid")
        return values


def encode_token(key: list[object]) -> str:
    raw = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> list[object]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError):
        key = None
    if not isinstance(key, list):
        raise ApiError(ErrorCode.invalid_request_arguments, "`continuationToken` is not valid")
    return key


def page_from_query(query: Mapping[str, str]) -> Page:
    limit_text = query.get("limit")
    limit = MAX_PAGE
    if limit_text is not None:
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
            raise ApiError(
                ErrorCode.invalid_request_arguments,
                f"`limit` must be a whole number from 1 to {MAX_PAGE}",
            )
        limit = int(limit_text)
    token = query.get("continuationToken")
    return Page(decode_token(token) if token else None, limit)
