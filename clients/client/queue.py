"""The typed Queue v1 client: one method per queue endpoint of the table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..protocol.stream import Binding
from .events import EventStream
from .livelog import LogStream, RelayConnection, ShellSession
from .queue_artifacts import ArtifactCalls
from .queue_tasks import TaskCalls
from .queue_workers import WorkerCalls

__all__ = ["Queue"]


class Queue(TaskCalls, ArtifactCalls, WorkerCalls):
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

    def events(self, bindings: Sequence[Binding] = (), *, buffer: int = 1000) -> EventStream:
        """A live subscription to the queue's exchanges (``async with`` opens it).

        ``bindings`` are exchanges with routing-key patterns (``Binding.for_task``,
        ``for_task_group``, ``for_task_queue`` build the usual ones); more can be added with
        ``stream.subscribe``. ``buffer`` bounds the events held for a slow consumer.
        """
        return EventStream(self, bindings, buffer=buffer)

    def relay(self, worker_group: str, worker_id: str) -> RelayConnection:
        """This worker's relay connection (``async with`` connects; iterate the streams
        viewers open). Needs ``queue:worker-id:<workerGroup>/<workerId>``."""
        return RelayConnection(self, worker_group, worker_id)

    def live_log(
        self, task_id: str, run_id: int, secret: str, *, offset: int = 0, follow: bool = True
    ) -> LogStream:
        """A run's live log through the relay, from ``offset`` (``async with``, then iterate)."""
        url = self.url("liveLog", {"taskId": task_id, "runId": run_id, "secret": secret})
        return LogStream(self.session(), url, offset=offset, follow=follow)

    def shell(self, task_id: str, run_id: int, secret: str) -> ShellSession:
        """An interactive shell in a run through the relay (``async with``, then iterate)."""
        url = self.url("shell", {"taskId": task_id, "runId": run_id, "secret": secret})
        return ShellSession(self.session(), url)
