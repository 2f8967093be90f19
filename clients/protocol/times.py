"""Timestamps on the wire: JavaScript `toJSON` format, milliseconds, `Z` (protocol.md, "Time")."""

from __future__ import annotations

import datetime as dt
import functools

__all__ = ["format_ms", "parse_time"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def parse_time(value: str) -> int:
    """An ISO 8601 date-time into integer milliseconds since the epoch; ValueError if invalid.

    Accepts what the official clients send (microseconds, `Z` or an offset). A value without a
    zone is taken as UTC, as JavaScript's `Date.parse` does for date-times with a `T`.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    delta = parsed - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    """`2024-05-01T12:00:00.` for a whole second since the epoch; a server formats the same
    few seconds (now, now + the claim timeout, a task's deadline) again and again."""
    return (_EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.")


def format_ms(ms: int) -> str:
    """Milliseconds since the epoch as `2024-05-01T12:00:00.000Z`."""
    return f"{_second(ms // 1000)}{ms % 1000:03d}Z"
