"""What an artifact transfer costs in CPU, per 100 MiB: the server's per thread, the client's.

    .venv/bin/python -m bench.transfercost                  # 100 MiB, 5 uploads and downloads
    .venv/bin/python -m bench.transfercost --mib 20 --reps 3 --only upload

A queue server is started as its own process (`bench/server.py`); each upload is the typed
client's `put_file` to a fresh s3 artifact's PUT URL and each download a GET of the first
artifact streamed to a file and fsync'ed, as `bench/artifacts.py` makes them, after one of each
as a warm-up. Per transfer it takes the server's CPU from `/proc/PID/task/*/stat` (the event
loop's thread apart from the others: the worker threads that write, hash and send), its minor
page faults, the client's `time.process_time` and the wall time, and prints their means scaled
to 100 MiB. The CPU figures move much less with the load on the machine than MB/s do: compare
two versions by running them in turn in the same minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from . import artifacts
from .client import QueueClient, run_credentials, session
from .server import QueueProcess, running_queue, thread_ticks

__all__ = ["Cost", "measure"]

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
MIB = 1 << 20


@dataclass(frozen=True)
class Cost:
    loop_s: float
    threads_s: float
    faults: int
    client_s: float
    wall_s: float


def _faults(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[7])


async def _costed(pid: int, transfer: Callable[[], Awaitable[Any]]) -> Cost:
    ticks, faults = thread_ticks(pid), _faults(pid)
    client, began = time.process_time(), time.perf_counter()
    await transfer()
    wall, client = time.perf_counter() - began, time.process_time() - client
    after, faults = thread_ticks(pid), _faults(pid) - faults
    used = {tid: n - ticks.get(tid, 0) for tid, n in after.items()}
    loop = used.pop(pid, 0) * TICK_S
    return Cost(loop, sum(used.values()) * TICK_S, faults, client, wall)


class _Transfers:
    def __init__(self, queue: QueueProcess, http: aiohttp.ClientSession, size: int) -> None:
        self.queue = queue
        self.http = http
        self.size = size
        self.client = QueueClient(http, queue)
        self.scratch = queue.data_dir.parent
        self.source = self.scratch / "source.bin"
        self.claim: dict[str, Any] = {}

    async def start(self) -> None:
        await asyncio.to_thread(artifacts._write_source, self.source, self.size)
        await self.client.create_task(artifacts.TASK_QUEUE)
        (self.claim,) = await self.client.claim_work(artifacts.TASK_QUEUE, "bench", "cost", 1)

    def _route(self, name: str) -> str:
        return f"/task/{self.claim['status']['taskId']}/runs/0/{name}"

    async def upload(self, name: str) -> Cost:
        body = {
            "storageType": "s3",
            "contentType": "application/octet-stream",
            "contentLength": self.size,
            "expires": self.claim["task"]["expires"],
        }
        route = self._route(f"artifacts/{name}")
        created = await self.client.call("POST", route, body, run_credentials(self.claim))
        put = artifacts._upload(self.http, created["putUrl"], self.source, self.size)
        return await _costed(self.queue.pid, lambda: put)

    async def download(self, name: str) -> Cost:
        content = await self.client.call("GET", self._route(f"artifact-content/{name}"))
        target = self.scratch / "downloaded.bin"
        get = artifacts._download(self.http, content["url"], target)
        cost = await _costed(self.queue.pid, lambda: get)
        await asyncio.to_thread(target.unlink)
        return cost


async def measure(size: int, reps: int, only: set[str]) -> dict[str, list[Cost]]:
    """`reps` uploads and downloads of `size` bytes (as `only` says), after one of each."""
    costs: dict[str, list[Cost]] = {"upload": [], "download": []}
    async with running_queue() as queue, session(4) as http:
        transfers = _Transfers(queue, http, size)
        await transfers.start()
        first = "public%2Fbench%2Fcost-0.bin"
        await transfers.upload(first)
        await transfers.download(first)
        for rep in range(1, reps + 1):
            if "upload" in only:
                costs["upload"].append(await transfers.upload(f"public%2Fbench%2Fcost-{rep}.bin"))
            if "download" in only:
                costs["download"].append(await transfers.download(first))
    return costs


def _line(what: str, costs: list[Cost], size: int) -> str:
    scale = 100 * MIB / size

    def per_100_mib(field: Callable[[Cost], float]) -> float:
        return statistics.mean(field(c) for c in costs) * scale

    def ms(field: Callable[[Cost], float]) -> str:
        return f"{per_100_mib(field) * 1000:.0f}"

    return (
        f"{what:8s} server {ms(lambda c: c.loop_s + c.threads_s)} ms"
        f" (event loop {ms(lambda c: c.loop_s)}, other threads {ms(lambda c: c.threads_s)}),"
        f" {per_100_mib(lambda c: c.faults):.0f} page faults; client {ms(lambda c: c.client_s)}"
        f" ms; wall {ms(lambda c: c.wall_s)} ms  [per 100 MiB, mean of {len(costs)}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=100, help="artifact size [100]")
    parser.add_argument("--reps", type=int, default=5, help="transfers each way [5]")
    parser.add_argument("--only", default="upload,download", help="[upload,download]")
    args = parser.parse_args()
    size = args.mib * MIB
    costs = asyncio.run(measure(size, args.reps, set(args.only.split(","))))
    for what, measured in costs.items():
        if measured:
            print(_line(what, measured, size), flush=True)


if __name__ == "__main__":
    main()
