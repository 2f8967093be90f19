"""Waiting for a task to resolve, from its events, without polling (protocol.md §11.3)."""

from __future__ import annotations

from collections.abc import Callable

from ..protocol.events import Exchange, TaskMessage
from ..protocol.states import TaskState
from ..protocol.stream import Binding
from ..protocol.tasks import TaskStatus
from .events import EventStreamClosed
from .queue import Queue

__all__ = ["RESOLVED", "wait_for_resolution"]

RESOLVED = frozenset({TaskState.completed, TaskState.failed, TaskState.exception})
_WATCHED = (
    Exchange.task_pending,
    Exchange.task_running,
    Exchange.task_completed,
    Exchange.task_failed,
    Exchange.task_exception,
)


async def wait_for_resolution(
    queue: Queue,
    task_id: str,
    on_change: Callable[[Exchange, TaskMessage], None] | None = None,
    max_reconnects: int = 100,
) -> TaskStatus:
    """The task's status once it is completed, failed or exception (retries not yet made).

    Subscribes to the task's events, then reads its status, so no change can fall between
    the two; a dropped stream is resubscribed and the status read again. ``on_change`` sees
    every pending/running/resolution message on the way.
    """
    bindings = [Binding.for_task(exchange, task_id) for exchange in _WATCHED]
    for _attempt in range(max_reconnects + 1):
        try:
            async with queue.events(bindings) as stream:
                status = (await queue.status(task_id)).status
                if status.state in RESOLVED:
                    return status
                async for event in stream:
                    if not isinstance(event.body, TaskMessage):
                        continue
                    if on_change is not None and isinstance(event.exchange, Exchange):
                        on_change(event.exchange, event.body)
                    if event.body.status.state in RESOLVED:
                        return event.body.status
        except EventStreamClosed:
            continue
    raise EventStreamClosed(None, f"gave up after {max_reconnects} reconnects")
