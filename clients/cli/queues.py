"""`infrax queues`: every task queue with its pending and claimed counts and its workers."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
from rich.table import Table

from ..client import Queue
from ..protocol.ids import split_task_queue_id
from ..protocol.queues import TaskQueue, TaskQueueCounts, WorkerListItem
from .common import Exit, connection_flags, options_of, run_command
from .render import console, print_json

__all__ = ["command"]

BATCH = 1000  # taskQueueCountsBatch takes at most this many


@dataclass
class QueueView:
    queue: TaskQueue
    counts: TaskQueueCounts
    workers: list[WorkerListItem]

    def to_json(self) -> dict[str, object]:
        return {
            "taskQueueId": self.queue.task_queue_id,
            "pendingTasks": self.counts.pending_tasks,
            "claimedTasks": self.counts.claimed_tasks,
            "lastDateActive": self.queue.last_date_active,
            "workers": msgspec.to_builtins(self.workers),
        }


async def _views(queue: Queue, named: Sequence[str]) -> list[QueueView]:
    """The queues workers have used, plus the named ones (a queue nobody serves yet is only
    listed when named: the queue learns of a task queue from its workers)."""
    queues = [q async for q in queue.iter_list_task_queues()]
    seen = {q.task_queue_id for q in queues}
    for task_queue_id in dict.fromkeys(named):
        if task_queue_id not in seen:
            queues.append(_unseen(task_queue_id))
    counts: dict[str, TaskQueueCounts] = {}
    for start in range(0, len(queues), BATCH):
        ids = [q.task_queue_id for q in queues[start : start + BATCH]]
        answer = await queue.task_queue_counts_batch(ids)
        counts.update({c.task_queue_id: c for c in answer.task_queue_counts})
    views = []
    for task_queue in queues:
        parts = split_task_queue_id(task_queue.task_queue_id)
        workers = [] if parts is None else [w async for w in queue.iter_list_workers(*parts)]
        views.append(QueueView(task_queue, counts[task_queue.task_queue_id], workers))
    return views


def _unseen(task_queue_id: str) -> TaskQueue:
    return TaskQueue(
        task_queue_id=task_queue_id,
        stability="experimental",
        description="",
        expires="",
        last_date_active="never",
    )


def _render(views: list[QueueView], show_workers: bool) -> None:
    table = Table(show_edge=False, pad_edge=False)
    for column, justify in (("task queue", "left"), ("pending", "right"), ("claimed", "right"),
                            ("workers", "right"), ("quarantined", "right"), ("last active", "left")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for view in views:
        quarantined = sum(1 for w in view.workers if w.quarantine_until is not msgspec.UNSET)
        table.add_row(
            view.queue.task_queue_id,
            str(view.counts.pending_tasks),
            str(view.counts.claimed_tasks),
            str(len(view.workers)),
            str(quarantined) if quarantined else "",
            view.queue.last_date_active,
        )
    out = console()
    out.print(table if views else "no task queue has been seen yet")
    if show_workers and any(view.workers for view in views):
        out.print(_workers_table(views))


def _workers_table(views: list[QueueView]) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    for column in ("task queue", "worker", "last active", "latest task", "quarantined until"):
        table.add_column(column)
    for view in views:
        for worker in view.workers:
            latest = worker.latest_task
            table.add_row(
                view.queue.task_queue_id,
                f"{worker.worker_group}/{worker.worker_id}",
                "" if worker.last_date_active is msgspec.UNSET else worker.last_date_active,
                "" if latest is msgspec.UNSET else f"{latest.task_id} run {latest.run_id}",
                "" if worker.quarantine_until is msgspec.UNSET else worker.quarantine_until,
            )
    return table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax queues",
        description="Show task queues with pending and claimed counts and their workers.",
        parents=[connection_flags()],
    )
    parser.add_argument(
        "task_queue_ids",
        nargs="*",
        metavar="TASK_QUEUE_ID",
        help="also show these (a queue no worker has served yet is listed only when named)",
    )
    parser.add_argument("--workers", action="store_true", help="also list every worker")
    return parser


def command(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))

    async def body() -> int:
        async with Queue(options_of(args)) as queue:
            views = await _views(queue, args.task_queue_ids)
        if args.json:
            print_json({"taskQueues": [view.to_json() for view in views]})
        else:
            _render(views, args.workers)
        return Exit.ok

    return run_command("infrax queues", body)
