"""Figure 5, dependency fan-out and fan-in, against a chain of 10.

- fan-out: one task that N tasks depend on (all written before the server starts, the N
  unscheduled). The task is claimed and reported completed; the clock runs over that
  reportCompleted, whose transaction satisfies the N edges and makes the N dependents pending.
- fan-in: N pending tasks, then (timed) the createTask of one task depending on all N; then 8
  workers claim and complete the N (timed), the last report making the dependent pending.
- chain of 10: ten tasks each depending on the one before; each is claimed and completed in
  turn, the next becoming pending; the clock runs over the ten links.

Dependencies cost a row per edge and each resolution touches only its own edges (protocol.md,
"Dependencies"), so the cost per edge should not grow with N: the figures are per edge and per
link, and fan-out is measured at N and N/10.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import QueueClient, session
from .fill import filling
from .server import BenchError, running_queue
from .templates import Templates

__all__ = ["FanRound", "run_chain_round", "run_fan_in_round", "run_fan_out_round"]

ROOT_QUEUE = "bench/fan-root"
DEPENDENT_QUEUE = "bench/fan-dependents"
CHAIN_QUEUE = "bench/chain"
WORKER_GROUP = "bench"
CHAIN = 10
BATCH = 32


@dataclass(frozen=True)
class FanRound:
    edges: int
    seconds: float  # the timed part
    create_s: float = 0.0  # fan-in: the createTask with every dependency

    @property
    def ms_per_edge(self) -> float:
        return self.seconds * 1000 / self.edges


async def _claim_one(client: QueueClient, queue: str) -> dict[str, Any]:
    claims = await client.claim_work(queue, WORKER_GROUP, "w", 1)
    if len(claims) != 1:
        raise BenchError(f"nothing to claim in {queue}")
    return claims[0]


async def run_fan_out_round(templates: Templates, edges: int) -> FanRound:
    async def build(data_dir: Path) -> None:
        async with filling(data_dir) as filler:
            root = await filler.create(ROOT_QUEUE)
            await filler.create_many([DEPENDENT_QUEUE] * edges, dependencies=[root])

    prepare = templates.prepare(("fan-out", edges), build)
    async with running_queue(prepare=prepare) as queue, session(4) as http:
        client = QueueClient(http, queue)
        claim = await _claim_one(client, ROOT_QUEUE)
        began = time.perf_counter()
        await client.report_completed(claim)
        seconds = time.perf_counter() - began
        pending = await client.call("GET", f"/pending/{DEPENDENT_QUEUE.replace('/', '%2F')}")
    if pending["pendingTasks"] != edges:
        raise BenchError(f"{pending['pendingTasks']} dependents pending, not {edges}")
    return FanRound(edges, seconds)


async def _complete(client: QueueClient, queue: str, worker: str, share: int) -> None:
    """Claim and complete `share` runs; the workers' shares add up to the pending runs, so no
    claimWork ever waits for work that will not come."""
    while share > 0:
        claims = await client.claim_work(queue, WORKER_GROUP, worker, min(BATCH, share))
        share -= len(claims)
        await asyncio.gather(*(client.report_completed(claim) for claim in claims))


async def run_fan_in_round(templates: Templates, edges: int, workers: int) -> FanRound:
    async def build(data_dir: Path) -> None:
        async with filling(data_dir) as filler:
            await filler.create_many([DEPENDENT_QUEUE] * edges)

    prepare = templates.prepare(("fan-in", edges), build)
    async with running_queue(prepare=prepare) as queue, session(workers + 4) as http:
        client = QueueClient(http, queue)
        listed = await client.call("GET", f"/pending/{DEPENDENT_QUEUE.replace('/', '%2F')}")
        if listed["pendingTasks"] != edges:
            raise BenchError("the fan-in tasks are not all pending")
        required = await _pending_ids(client, edges)
        began = time.perf_counter()
        await client.create_task(ROOT_QUEUE, dependencies=required)
        create_s = time.perf_counter() - began
        shares = [edges // workers + (1 if i < edges % workers else 0) for i in range(workers)]
        began = time.perf_counter()
        await asyncio.gather(
            *(_complete(client, DEPENDENT_QUEUE, f"w{i}", n) for i, n in enumerate(shares))
        )
        seconds = time.perf_counter() - began
        await _claim_one(client, ROOT_QUEUE)  # the dependent is pending now
    return FanRound(edges, seconds, create_s)


async def _pending_ids(client: QueueClient, count: int) -> list[str]:
    ids: list[str] = []
    token = ""
    while len(ids) < count:
        route = f"/task-queues/{DEPENDENT_QUEUE.replace('/', '%2F')}/pending?limit=1000" + token
        page = await client.call("GET", route)
        ids += [item["taskId"] for item in page["tasks"]]
        if "continuationToken" not in page:
            break
        token = f"&continuationToken={page['continuationToken']}"
    return ids


async def run_chain_round() -> FanRound:
    async with running_queue() as queue, session(4) as http:
        client = QueueClient(http, queue)
        previous: list[str] = []
        for _ in range(CHAIN):
            previous = [await client.create_task(CHAIN_QUEUE, dependencies=previous[-1:])]
        began = time.perf_counter()
        for _ in range(CHAIN):
            await client.report_completed(await _claim_one(client, CHAIN_QUEUE))
        seconds = time.perf_counter() - began
    return FanRound(CHAIN, seconds)
