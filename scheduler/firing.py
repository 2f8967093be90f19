"""Firing a hook: render its template, create the task under the hook's role, record it.

The task is created with the scheduler's credentials restricted by `authorizedScopes =
["assume:hook-id:<hookGroupId>/<hookId>"]`, so it can do only what the hook's role grants
(protocol.md, "Firing a hook"). Rendering errors and refusals by the queue become recorded
errors; nothing here raises for a bad template.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from clients.client import (
    ApiCallError,
    InsufficientScopes,
    Queue,
    ServerError,
    TransportError,
)
from clients.protocol.errors import ApiError, ErrorCode, input_error
from clients.protocol.hooks import HookDefinition

from .core.fires import FireOutcome, error_record
from .core.templates import RenderError, fill_defaults, render_context, render_task
from .store import FireRow, HookStore

__all__ = ["Firer", "hook_role"]

log = logging.getLogger("infrax.scheduler")


def hook_role(hook: HookDefinition) -> str:
    return f"hook-id:{hook.hook_group_id}/{hook.hook_id}"


class Firer:
    def __init__(self, store: HookStore, queue: Queue) -> None:
        self._store = store
        self._queue = queue

    async def fire(
        self,
        hook: HookDefinition,
        fired_by: str,
        task_id: str,
        now_ms: int,
        payload: Any,
        client_id: str | None = None,
    ) -> FireOutcome:
        """Render and create; never raises for a bad template or a refusing queue."""
        context = render_context(fired_by, task_id, now_ms, payload, client_id)
        try:
            task = render_task(hook.task, context)
        except RenderError as error:
            return FireOutcome("error", task_id, input_error(f"While firing hook: {error}"))
        if task is None:
            return FireOutcome("null", task_id)
        role = hook_role(hook)
        queue = self._queue.with_credentials(self._queue.credentials, [f"assume:{role}"])
        try:
            await queue.create_task(task_id, fill_defaults(task, task_id, now_ms))
        except InsufficientScopes as error:
            return FireOutcome(
                "error",
                task_id,
                ApiError(
                    ErrorCode.insufficient_scopes,
                    f"The role `{role}` does not have sufficient scopes to create the task:"
                    f" {error.explanation}",
                ),
            )
        except (ServerError, TransportError) as error:
            log.warning("queue unavailable for a fire", extra={"event": "fire_retry"})
            return FireOutcome(
                "retry", task_id, ApiError(ErrorCode.internal_server_error, str(error))
            )
        except ApiCallError as error:
            message = f"While calling createTask: {error.code} {error.explanation}"
            return FireOutcome("error", task_id, input_error(message))
        return FireOutcome("created", task_id)

    async def fire_and_record(
        self,
        hook: HookDefinition,
        fired_by: str,
        task_id: str,
        payload: Any,
        client_id: str | None = None,
    ) -> FireOutcome:
        """A fire from the API: recorded unless the template rendered to null."""
        now_ms = int(time.time() * 1000)
        outcome = await self.fire(hook, fired_by, task_id, now_ms, payload, client_id)
        if outcome.kind != "null":
            await self._store.record_fire(fire_row(hook, fired_by, outcome, now_ms))
        return outcome


def fire_row(hook: HookDefinition, fired_by: str, outcome: FireOutcome, now_ms: int) -> FireRow:
    failed = outcome.kind in ("error", "retry")
    return FireRow(
        seq=0,
        hook_group_id=hook.hook_group_id,
        hook_id=hook.hook_id,
        fired_by=fired_by,
        task_id=outcome.task_id,
        fired_at=now_ms,
        result="error" if failed else "success",
        error=error_record(outcome.error) if failed and outcome.error is not None else "",
    )
