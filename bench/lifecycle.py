"""Figure 1, lifecycle throughput: createTask → claimWork (batched) → reportCompleted.

Workers are waiting in claimWork before the first task is created, as idle workers would be;
each reports the runs of a batch concurrently, as a worker with capacity 32 would. The clock
runs from the start of the first createTask to the end of the last reportCompleted.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from .client import QueueClient, session
from .server import Deployment

__all__ = ["LifecycleRound", "LifecycleSizes", "run_lifecycle", "run_lifecycle_round"]

TASK_QUEUE = "bench/lifecycle"
WARMUP_QUEUE = "bench/warmup"
WORKER_GROUP = "bench"
BATCH = 32  # the most claimWork hands out in one call
WORKERS_SETTLE_S = 0.2  # lets the workers reach their long poll before the clock starts


@dataclass(frozen=True)
class LifecycleSizes:
    tasks: int
    workers: int
    creators: int
    warmup_tasks: int


@dataclass(frozen=True)
class LifecycleRound:
    tasks: int
    wall_s: float
    server_cpu_s: float | None
    client_cpu_s: float

    @property
    def tasks_per_s(self) -> float:
        return self.tasks / self.wall_s


class _Progress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.completed = 0
        self.finished = asyncio.Event()
        self.finished_at = 0.0

    def complete(self) -> None:
        self.completed += 1
        if self.completed == self.total:
            self.finished_at = time.perf_counter()
            self.finished.set()


async def _create(client: QueueClient, task_queue_id: str, count: int) -> None:
    for _ in range(count):
        await client.create_task(task_queue_id)


async def _work(
    client: QueueClient, task_queue_id: str, worker_id: str, progress: _Progress
) -> None:
    while True:
        claims = await client.claim_work(task_queue_id, WORKER_GROUP, worker_id, BATCH)
        await asyncio.gather(*(_report(client, claim, progress) for claim in claims))


async def _report(client: QueueClient, claim: dict[str, Any], progress: _Progress) -> None:
    await client.report_completed(claim)
    progress.complete()


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def run_lifecycle(
    client: QueueClient, task_queue_id: str, sizes: LifecycleSizes, tasks: int
) -> float:
    """Push `tasks` tasks through; the seconds from the first create to the last report."""
    progress = _Progress(tasks)
    async with asyncio.TaskGroup() as group:
        workers = [
            group.create_task(_work(client, task_queue_id, f"w{i}", progress))
            for i in range(sizes.workers)
        ]
        await asyncio.sleep(WORKERS_SETTLE_S)
        started = time.perf_counter()
        for share in _shares(tasks, sizes.creators):
            group.create_task(_create(client, task_queue_id, share))
        await progress.finished.wait()
        for worker in workers:
            worker.cancel()
    return progress.finished_at - started


async def run_lifecycle_round(sizes: LifecycleSizes, deploy: Deployment) -> LifecycleRound:
    """One round on a fresh deployment (server, data directory or schema)."""
    async with deploy() as queue, session(sizes.workers + sizes.creators + 8) as http:
        client = QueueClient(http, queue)
        if sizes.warmup_tasks:
            await run_lifecycle(client, WARMUP_QUEUE, sizes, sizes.warmup_tasks)
        server_before, client_before = queue.cpu_seconds(), time.process_time()
        wall = await run_lifecycle(client, TASK_QUEUE, sizes, sizes.tasks)
        server_after, client_after = queue.cpu_seconds(), time.process_time()
    server_cpu = (
        server_after - server_before
        if server_after is not None and server_before is not None
        else None
    )
    return LifecycleRound(sizes.tasks, wall, server_cpu, client_cpu_s=client_after - client_before)
