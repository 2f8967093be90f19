"""The typed Queue v1 client: one method per queue endpoint of the table."""

from __future__ import annotations

from typing import ClassVar

from .queue_tasks import TaskCalls
from .queue_workers import WorkerCalls

__all__ = ["Queue"]


class Queue(TaskCalls, WorkerCalls):
    """An async client of ``<rootUrl>/api/queue/v1``.

    ::

        async with Queue.from_env() as queue:
            status = await queue.status(task_id)
            async for item in queue.iter_list_task_group(group_id):
                print(item.status.task_id, item.status.state)

    Errors are ``ApiCallError`` subclasses (``ResourceNotFound``, ``RequestConflict``...);
    5xx answers and connection failures are retried per ``Options.retry``.
    """

    service: ClassVar[str] = "queue"
