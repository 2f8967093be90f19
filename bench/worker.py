"""Figure 4, worker overhead: a trivial Docker task through the whole system, against a raw
`docker run --rm` of the same image and command in the same round.

An `infrax worker` process (Docker engine, capacity 1) is already waiting in claimWork on a
queue server in its own process. Each sample alternates the two: the clock of the task runs
from just before createTask to the run's `resolved` time in the queue (the same host clock),
so it covers the claim, the image lookup, the container's life, the task log and
resources.json uploads and the report; the raw run is timed around the `docker` command. The
image is the local busybox image (tests/images.py); the command is `true`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from clients import hawk
from clients.client import Options, Queue
from clients.protocol.ids import new_slugid
from clients.protocol.times import parse_time
from tests.images import busybox_image

from .client import task_definition
from .server import STARTUP_TIMEOUT_S, BenchError, QueueProcess, infrax_command, running_queue

__all__ = ["WorkerRound", "docker_available", "run_worker_round", "started_worker", "stop_worker"]

TASK_QUEUE = "bench/docker"
COMMAND = ["true"]
POLL_S = 0.05
RESOLVE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class WorkerRound:
    task_s: list[float]
    raw_s: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.task_s) / statistics.median(self.raw_s)


def docker_available() -> bool:
    try:
        client = docker.from_env(timeout=10)
        client.ping()
        client.close()
    except docker.errors.DockerException:
        return False
    return shutil.which("docker") is not None and Path("/bin/busybox").exists()


async def _raw_run(image: str) -> float:
    began = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        "docker", "run", "--rm", image, *COMMAND,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    if process.returncode != 0:
        raise BenchError(f"docker run failed: {err.decode(errors='replace')[-500:]}")
    return time.perf_counter() - began


async def _task_run(queue: Queue, image: str) -> float:
    task_id = new_slugid()
    definition = task_definition(TASK_QUEUE, time.time())
    definition["payload"] = {"image": image, "command": COMMAND, "maxRunTime": 60}
    submitted = time.time()
    await queue.create_task(task_id, definition)
    deadline = time.monotonic() + RESOLVE_TIMEOUT_S
    while time.monotonic() < deadline:
        status = (await queue.status(task_id)).status
        run = status.runs[0] if status.runs else None
        if run is not None and isinstance(run.resolved, str):
            if run.state != "completed":
                raise BenchError(f"the bench task ended {run.state}/{run.reason_resolved}")
            return parse_time(run.resolved) / 1000 - submitted
        await asyncio.sleep(POLL_S)
    raise BenchError("the bench task was not resolved in time")


async def started_worker(
    server: QueueProcess, work_dir: Path, task_queue: str = TASK_QUEUE, *extra: str
) -> asyncio.subprocess.Process:
    """An `infrax worker` process (Docker engine, capacity 1), once it claims."""
    env = {
        **os.environ,
        "TASKCLUSTER_CLIENT_ID": "root",
        "TASKCLUSTER_ACCESS_TOKEN": server.root_access_token,
    }
    args = [
        *infrax_command(), "worker", "--root-url", server.root_url,
        "--task-queue-id", task_queue, "--engine", "docker", "--capacity", "1",
        "--worker-group", "bench", "--worker-id", f"bench-{new_slugid()[:8]}",
        "--work-dir", str(work_dir), "--cache-prefix", "infrax-bench", *extra,
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while line := await process.stdout.readline():
                if line.startswith(b"worker: "):
                    return process
    except TimeoutError:
        pass
    process.kill()
    await process.wait()
    raise BenchError("the worker did not start")


async def stop_worker(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def run_worker_round(samples: int) -> WorkerRound:
    client = docker.from_env(timeout=120)
    image = await asyncio.to_thread(busybox_image, client)
    client.close()
    async with running_queue() as server:
        with tempfile.TemporaryDirectory(prefix="infrax-bench-worker-") as tmp:
            worker = await started_worker(server, Path(tmp))
            credentials = hawk.Credentials("root", server.root_access_token)
            try:
                async with Queue(Options(server.root_url, credentials)) as queue:
                    await _task_run(queue, image)  # warm-up: caches, connections
                    await _raw_run(image)
                    task_s, raw_s = [], []
                    for _ in range(samples):
                        task_s.append(await _task_run(queue, image))
                        raw_s.append(await _raw_run(image))
            finally:
                await stop_worker(worker)
    return WorkerRound(task_s, raw_s)
