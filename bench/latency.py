"""Figure 2, claim latency: a worker already waiting in claimWork on an empty task queue.

Each sample: the worker's claimWork is sent and given time to reach its long poll; then a task
is created (with several replicas, through another replica than the waiter's), and the clock
runs from receiving the createTask response to receiving the claimWork response. The run is then reported completed so the queue is empty again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from .client import QueueClient, session
from .server import BenchError, Deployment

__all__ = ["LatencyRound", "run_latency_round"]

TASK_QUEUE = "bench/latency"
WORKER_GROUP = "bench"
WORKER_ID = "waiter"
WAITING_SETTLE_S = 0.02  # loopback: the claimWork is inside its long poll well before this


@dataclass(frozen=True)
class LatencyRound:
    samples_ms: list[float]


async def _one_sample(client: QueueClient, creator: QueueClient) -> float:
    claim = asyncio.ensure_future(client.claim_work(TASK_QUEUE, WORKER_GROUP, WORKER_ID, 1))
    await asyncio.sleep(WAITING_SETTLE_S)
    if claim.done():
        claim.result()  # raises the error, if there was one
        raise BenchError("claimWork returned before any task existed")
    task_id = await creator.create_task(TASK_QUEUE)
    created = time.perf_counter()
    claims = await claim
    latency_ms = (time.perf_counter() - created) * 1000
    if [c["status"]["taskId"] for c in claims] != [task_id]:
        raise BenchError(f"the waiting worker claimed {claims!r}, not {task_id}")
    await client.report_completed(claims[0])
    return latency_ms


async def run_latency_round(samples: int, deploy: Deployment) -> LatencyRound:
    """`samples` waits on a fresh deployment, one after the other: the worker waits on one
    server, the task is created through another (the same one when there is only one)."""
    async with deploy() as queue, session(4) as http:
        client, creator = QueueClient(http, queue.waiter), QueueClient(http, queue.creator)
        await _one_sample(client, creator)  # warm-up: connections open, first paths taken
        return LatencyRound([await _one_sample(client, creator) for _ in range(samples)])
