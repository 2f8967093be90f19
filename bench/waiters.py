"""Figure 4, many waiting workers: 10,000 claimWork long polls held open by one queue process.

The load generator raises its open-file limit (the server, its child, inherits it), opens one
connection per waiting worker and sends each a claimWork on the same task queue; once the
server holds them all (its open sockets counted in /proc) and is idle, its resident memory is
read. Then tasks are created one at a time, and the clock runs from the createTask response to
the claimWork response of whichever waiting worker got it; that worker reports the run
completed and waits again, so the number of waiting workers stays the same.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from .client import QueueClient
from .server import BenchError, QueueProcess, running_queue

__all__ = ["WaitersRound", "raise_open_files", "run_waiters_round"]

TASK_QUEUE = "bench/waiting"
WORKER_GROUP = "bench"
RAMP = 500  # workers started at a time while the server takes their connections
SETTLE_TIMEOUT_S = 300.0
CLAIM_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class WaitersRound:
    waiters: int
    rss_idle: int | None  # bytes, before the waiters came
    rss_waiting: int | None  # bytes, with all of them waiting
    samples_ms: list[float]


def raise_open_files(needed: int) -> None:
    """Raise the soft open-file limit towards the hard one; BenchError if that is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed + 256
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise BenchError(
                f"{needed} waiting workers need {want} open files; the limit is {hard}"
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _sockets(pid: int) -> int:
    try:
        return sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir() if "socket" in _link(fd))
    except OSError:
        return 0


def _link(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


async def _settled(queue: QueueProcess, sockets: int) -> None:
    """Until the server holds `sockets` sockets and used under 5 % of a core for a second."""
    limit = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < limit:
        before = queue.cpu_seconds()
        await asyncio.sleep(1.0)
        after = queue.cpu_seconds()
        idle = before is not None and after is not None and after - before < 0.05
        if idle and await asyncio.to_thread(_sockets, queue.pid) >= sockets:
            return
    raise BenchError(f"the server did not settle with {sockets} waiting connections")


class _Pool:
    """The waiting workers: each claims, hands its claim to whoever awaits one, and waits
    again."""

    def __init__(self, client: QueueClient) -> None:
        self.client = client
        self.claimed: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()

    async def worker(self, index: int) -> None:
        while True:
            claims = await self.client.claim_work(TASK_QUEUE, WORKER_GROUP, f"w{index}", 1)
            arrived = time.perf_counter()
            for claim in claims:
                await self.claimed.put((arrived, claim))


async def _sample(pool: _Pool) -> float:
    task_id = await pool.client.create_task(TASK_QUEUE)
    created = time.perf_counter()
    arrived, claim = await asyncio.wait_for(pool.claimed.get(), CLAIM_TIMEOUT_S)
    if claim["status"]["taskId"] != task_id:
        raise BenchError(f"a waiting worker claimed {claim['status']['taskId']}, not {task_id}")
    await pool.client.report_completed(claim)
    return (arrived - created) * 1000


async def run_waiters_round(waiters: int, samples: int) -> WaitersRound:
    raise_open_files(waiters)  # one socket each here, one each in the server (which inherits)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=60)
    async with (
        running_queue("--claim-wait", "60") as queue,
        aiohttp.ClientSession(connector=connector, timeout=timeout) as http,
    ):
        pool = _Pool(QueueClient(http, queue))
        rss_idle = _rss(queue.pid)
        baseline_sockets = await asyncio.to_thread(_sockets, queue.pid)
        async with asyncio.TaskGroup() as group:
            workers = []
            for start in range(0, waiters, RAMP):
                workers += [
                    group.create_task(pool.worker(i))
                    for i in range(start, min(waiters, start + RAMP))
                ]
                await asyncio.sleep(0.05)
            await _settled(queue, baseline_sockets + waiters)
            rss_waiting = _rss(queue.pid)
            samples_ms = [await _sample(pool) for _ in range(samples)]
            for worker in workers:
                worker.cancel()
    return WaitersRound(waiters, rss_idle, rss_waiting, samples_ms)
