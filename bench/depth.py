"""Figure 3, claim cost against queue depth: claimWork throughput with 10^2, 10^4 and 10^5
tasks left pending in the task queue, and with the pending tasks spread over 1,000 queues.

Each round starts a server on a data directory already holding `depth + claims` pending tasks
(bench/fill.py; the same directory copied for every round of a depth), then 8 workers claim
`claims` of them, one per claimWork call, as fast as they can: the depth goes from
depth + claims down to depth. With 1,000 task queues the tasks are spread evenly and each
worker claims from the queues in turn. Runs are left claimed (nothing else is measured here).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from .client import QueueClient, session
from .fill import fill_pending
from .server import running_queue
from .templates import Templates

__all__ = ["DepthRound", "run_depth_round"]

WORKER_GROUP = "bench"


@dataclass(frozen=True)
class DepthRound:
    depth: int
    queues: int
    claims: int
    wall_s: float
    server_cpu_s: float | None

    @property
    def claims_per_s(self) -> float:
        return self.claims / self.wall_s


def _queue_ids(queues: int) -> list[str]:
    return [f"bench/depth-{i:04d}" for i in range(queues)]


async def _claims(client: QueueClient, worker: int, queue_ids: list[str], count: int) -> None:
    for i in range(count):
        queue = queue_ids[(worker + i * 7919) % len(queue_ids)]  # every queue in turn
        (claim,) = await client.claim_work(queue, WORKER_GROUP, f"w{worker}", 1)
        del claim


async def run_depth_round(
    templates: Templates, depth: int, queues: int, claims: int, workers: int
) -> DepthRound:
    queue_ids = _queue_ids(queues)
    per_queue = -(-(depth + claims) // queues)  # so that no claim finds its queue empty

    async def build(data_dir: Path) -> None:
        await fill_pending(data_dir, queue_ids, per_queue)

    prepare = templates.prepare(("depth", depth, queues, claims), build)
    shares = [claims // workers + (1 if i < claims % workers else 0) for i in range(workers)]
    async with running_queue(prepare=prepare) as queue, session(workers + 4) as http:
        client = QueueClient(http, queue)
        cpu_before, began = queue.cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(_claims(client, w, queue_ids, n) for w, n in enumerate(shares)))
        wall_s, cpu_after = time.perf_counter() - began, queue.cpu_seconds()
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return DepthRound(depth, queues, claims, wall_s, cpu)
