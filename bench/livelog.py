"""Figure 3, live-log latency: from a line written in a container to its arrival at a
websocket viewer, directly from the worker, through the queue's relay, and through the relay
across replicas (with `--postgres`: the worker's relay connection on one replica, the viewer
on another, which proxies the stream from the first; protocol.md §18.3).

The queue (or the two replicas) and an `infrax worker` (Docker engine) each run as their own
process; the viewer is this process. The task prints one line every 20 ms, each carrying the time it was written
(read from the kernel's clock with busybox `adjtimex`, in microseconds: the container shares
the host's clock). The viewer follows `public/logs/live.log` over its websocket and takes
`now - written` for each line. Lines written before the viewer was connected, and the first
few after, are left out. The time between reading the clock and writing the line (a
busybox process exiting) is counted in the latency, so the figure errs high.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import docker

from clients import hawk
from clients.client import ClientError, LogStream, Options, Queue
from clients.protocol.artifacts import ReferenceContent
from clients.protocol.ids import new_slugid
from clients.protocol.livelog import LIVE_LOG
from tests.images import busybox_image

from .client import task_definition
from .postgres import fresh_schema
from .server import BenchError, QueueProcess, Secrets, running_queue
from .worker import started_worker, stop_worker

__all__ = ["LivelogPath", "LivelogRound", "run_livelog_round"]

LivelogPath = Literal["direct", "relay", "replicas"]
TASK_QUEUE = "bench/livelog"
SCHEMA_PREFIX = "infrax_bench_"
WARM_UP_LINES = 5
LINE_INTERVAL_S = 0.02
WAIT_S = 120.0
# CLOCK_REALTIME in microseconds; time.tv_usec holds nanoseconds when the status has STA_NANO.
_STAMP = (
    "adjtimex | awk '/status:/{st=$2}/tv_sec/{s=$2}/tv_usec/{u=$2}"
    'END{if (int(st/8192)%2==1) u=int(u/1000); printf "%d%06d", s, u}\''
)


@dataclass(frozen=True)
class LivelogRound:
    samples_ms: list[float]


def _image() -> str:
    client = docker.from_env(timeout=120)
    try:
        return busybox_image(client)
    finally:
        client.close()


def _script(lines: int) -> list[str]:
    loop = (
        f'i=0; while [ $i -lt {lines} ]; do i=$((i+1)); t=$({_STAMP}); echo "L $t";'
        f" sleep {LINE_INTERVAL_S}; done"
    )
    return ["sh", "-c", loop]


@asynccontextmanager
async def _worker(queue: QueueProcess, path: LivelogPath) -> AsyncIterator[None]:
    extra = ("--live-listen", "127.0.0.1:0", "--relay", "false") if path == "direct" else ()
    with tempfile.TemporaryDirectory(prefix="infrax-bench-livelog-") as tmp:
        worker = await started_worker(queue, Path(tmp), TASK_QUEUE, *extra)
        try:
            yield
        finally:
            await stop_worker(worker)


async def _live_url(queue: Queue, task_id: str) -> str:
    async with asyncio.timeout(WAIT_S):
        while True:
            try:
                content = await queue.artifact(task_id, 0, LIVE_LOG)
            except ClientError:
                content = None
            if isinstance(content, ReferenceContent):
                return content.url
            await asyncio.sleep(0.05)


async def _follow(queue: Queue, url: str, samples: int) -> list[float]:
    """Latencies of `samples` lines, once the viewer is connected and warmed up."""
    async with asyncio.timeout(WAIT_S):
        while True:  # the relay path answers 503 until the worker's connection is up
            try:
                stream = await LogStream(queue.session(), url).__aenter__()
                break
            except ClientError:
                await asyncio.sleep(0.05)
        connected_us = time.time() * 1e6
        latencies: list[float] = []
        pending, skipped = b"", 0
        try:
            async for chunk in stream:
                arrived_us = time.time() * 1e6
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if not line.startswith(b"L "):
                        continue
                    written_us = int(line[2:])
                    if written_us < connected_us or skipped < WARM_UP_LINES:
                        skipped += written_us >= connected_us
                        continue
                    latencies.append((arrived_us - written_us) / 1000)
                if len(latencies) >= samples:
                    return latencies[:samples]
        finally:
            await stream.close()
    raise BenchError(f"the log ended after {len(latencies)} of {samples} samples")


@asynccontextmanager
async def _queues(
    path: LivelogPath, postgres_url: str | None
) -> AsyncIterator[tuple[QueueProcess, QueueProcess]]:
    """The queue the worker connects to and the one the viewer follows the log through: the
    same one, or, across replicas, two replicas on a fresh PostgreSQL schema."""
    if path != "replicas":
        async with running_queue() as queue:
            yield queue, queue
        return
    if postgres_url is None:
        raise BenchError("the relay across replicas needs --postgres")
    shared = Secrets.new()
    async with (
        fresh_schema(postgres_url, SCHEMA_PREFIX) as url,
        running_queue(database_url=url, shared=shared) as holder,
        running_queue(database_url=url, shared=shared) as other,
    ):
        yield holder, other


async def run_livelog_round(
    samples: int, path: LivelogPath, postgres_url: str | None = None
) -> LivelogRound:
    """One task printing lines, one websocket viewer, on a fresh queue and worker."""
    image = await asyncio.to_thread(_image)
    async with _queues(path, postgres_url) as (queue, viewed), _worker(queue, path):
        credentials = hawk.Credentials("root", queue.root_access_token)
        async with Queue(Options(queue.root_url, credentials)) as client:
            task_id = new_slugid()
            definition = task_definition(TASK_QUEUE, time.time())
            lines = samples + WARM_UP_LINES + 100
            definition["payload"] = {"image": image, "command": _script(lines), "maxRunTime": 600}
            await client.create_task(task_id, definition)
            url = await _live_url(client, task_id)
            if (path != "direct") != ("/live-log/" in url):
                raise BenchError(f"the live log is not served {path}: {url}")
            url = url.replace(queue.root_url, viewed.root_url, 1)  # through the other replica
            latencies = await _follow(client, url, samples)
            await client.cancel_task(task_id)
    return LivelogRound(latencies)
