"""What the queue server costs per request, over HTTP, per thread of its process.

    .venv/bin/python -m bench.requestcost                       # 6,000 of each
    .venv/bin/python -m bench.requestcost --requests 3000 --only create,lifecycle

A server in its own process (bench/server.py) takes, one figure after the other: an
unauthenticated ping, a Hawk-signed ping, createTask, and whole lifecycle tasks (createTask,
claimWork of up to 32, reportCompleted; 8 creators, 8 workers). For each it prints the server's
CPU per request (per task for the lifecycle) split into its event loop's thread and its other
threads (the SQLite thread), read from `/proc/PID/task/*/stat`, and the load generator's CPU.
CPU per request rises with the machine's load (cache misses, preemption): to compare two
versions, run this from both checkouts at the same moment, so that both see the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .client import QueueClient, session
from .lifecycle import LifecycleSizes, run_lifecycle
from .server import QueueProcess, running_queue, thread_ticks

__all__ = ["RequestCost", "measure"]

FIGURES = ("ping", "signed", "create", "lifecycle")
CONCURRENCY = 16
WARMUP_SHARE = 20  # one request in 20 again before the measured ones, at least 200


@dataclass(frozen=True)
class RequestCost:
    figure: str
    requests: int
    loop_cpu_s: float
    other_threads_cpu_s: float
    client_cpu_s: float
    wall_s: float

    def line(self) -> str:
        n = self.requests
        server = self.loop_cpu_s + self.other_threads_cpu_s
        return (
            f"{self.figure:10s} server {1e6 * server / n:7.1f} us (event loop"
            f" {1e6 * self.loop_cpu_s / n:6.1f}, other threads {1e6 * self.other_threads_cpu_s / n:6.1f})"
            f"  load generator {1e6 * self.client_cpu_s / n:7.1f} us  {n / self.wall_s:6.0f}/s"
        )


async def _measure(
    figure: str, queue: QueueProcess, run: Callable[[int], Awaitable[None]], requests: int
) -> RequestCost:
    await run(max(200, requests // WARMUP_SHARE))
    before, client_before, began = (
        thread_ticks(queue.pid),
        time.process_time(),
        time.perf_counter(),
    )
    await run(requests)
    wall_s = time.perf_counter() - began
    client_s = time.process_time() - client_before
    after = thread_ticks(queue.pid)
    tick_s = 1 / os.sysconf("SC_CLK_TCK")
    used = {tid: (ticks - before.get(tid, 0)) * tick_s for tid, ticks in after.items()}
    loop_s = used.get(queue.pid, 0.0)
    return RequestCost(figure, requests, loop_s, sum(used.values()) - loop_s, client_s, wall_s)


async def measure(requests: int, figures: tuple[str, ...]) -> list[RequestCost]:
    found = []
    async with running_queue() as queue, session(CONCURRENCY + 8) as http:
        client = QueueClient(http, queue)
        ping_url = f"{queue.root_url}/api/queue/v1/ping"

        async def ping() -> None:
            async with http.get(ping_url) as response:
                await response.read()

        async def signed_ping() -> None:
            await client.call("GET", "/ping")

        async def create() -> None:
            await client.create_task("bench/requestcost")

        def concurrently(call: Callable[[], Awaitable[None]]) -> Callable[[int], Awaitable[None]]:
            async def each(count: int) -> None:
                for _ in range(count):
                    await call()

            async def run(count: int) -> None:
                await asyncio.gather(*(each(count // CONCURRENCY) for _ in range(CONCURRENCY)))

            return run

        queues = (f"bench/requestcost-{n}" for n in itertools.count())
        sizes = LifecycleSizes(tasks=requests, workers=8, creators=8, warmup_tasks=0)

        async def lifecycle(count: int) -> None:
            await run_lifecycle(client, next(queues), sizes, count)

        runs: dict[str, Callable[[int], Awaitable[None]]] = {
            "ping": concurrently(ping),
            "signed": concurrently(signed_ping),
            "create": concurrently(create),
            "lifecycle": lifecycle,
        }
        for figure in figures:
            found.append(await _measure(figure, queue, runs[figure], requests))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.requestcost", description=__doc__)
    parser.add_argument("--requests", type=int, default=6000, help="per figure [6000]")
    parser.add_argument("--only", default=",".join(FIGURES), help=f"of {', '.join(FIGURES)}")
    options = parser.parse_args()
    figures = tuple(name for name in options.only.split(",") if name)
    unknown = [name for name in figures if name not in FIGURES]
    if unknown:
        parser.error(f"--only: unknown figure(s) {', '.join(unknown)}; known: {', '.join(FIGURES)}")
    for cost in asyncio.run(measure(options.requests, figures)):
        print(cost.line(), flush=True)


if __name__ == "__main__":
    main()
