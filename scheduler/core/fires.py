"""Fire outcomes and how an error is recorded in listLastFires (protocol.md, "listLastFires")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from clients.protocol.errors import ApiError

__all__ = ["MAX_ERROR_CHARS", "FireOutcome", "error_record"]

MAX_ERROR_CHARS = 128 * 1024


def error_record(error: ApiError) -> str:
    """Pretty JSON of `{name, message, code, statusCode}`, cut to 128 KiB."""
    text = json.dumps(
        {
            "name": error.code.value,
            "message": error.message,
            "code": error.code.value,
            "statusCode": error.status,
        },
        indent=2,
    )
    return text[:MAX_ERROR_CHARS]


@dataclass(frozen=True)
class FireOutcome:
    """`created` (the task exists), `null` (nothing to create, not recorded), `error` (recorded,
    the schedule advances) or `retry` (the queue failed with 5xx or was unreachable)."""

    kind: Literal["created", "null", "error", "retry"]
    task_id: str
    error: ApiError | None = None

    @property
    def recorded(self) -> bool:
        return self.kind in ("created", "error")
