"""The RQ baseline's own process: RQ workers on the local Redis, fed and timed here.

`python -m bench.rq_side TASKS WORKERS` (Redis at $INFRAX_BENCH_REDIS) starts WORKERS
`rq worker` processes (SimpleWorker: each job runs in the worker itself, RQ's fastest way; the
default forks a process per job) on a queue of its own, waits until they are registered, then
enqueues TASKS no-op jobs and waits until all are in the finished registry: it prints the
seconds from the first enqueue to the last job finished as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

from redis import Redis
from rq import Queue, Worker
from rq.registry import FinishedJobRegistry

__all__ = ["noop"]

REDIS_VARIABLE = "INFRAX_BENCH_REDIS"
READY_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 600.0
POLL_S = 0.002


def noop() -> None:
    """A job that does nothing: what is measured is the queue around it."""


def _workers(url: str, queue: str, count: int) -> list[subprocess.Popen[bytes]]:
    args = [sys.executable, "-m", "rq.cli", "worker", "--url", url, "--quiet"]
    args += ["--worker-class", "rq.worker.SimpleWorker", queue]
    return [
        subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]


def _wait(done: object, timeout_s: float, what: str) -> None:
    limit = time.monotonic() + timeout_s
    while not done():  # type: ignore[operator]
        if time.monotonic() > limit:
            raise SystemExit(f"rq baseline: {what} did not happen in {timeout_s:.0f} s")
        time.sleep(POLL_S)


def main(argv: list[str]) -> int:
    tasks, count = int(argv[1]), int(argv[2])
    url = os.environ[REDIS_VARIABLE]
    redis = Redis.from_url(url)
    queue = Queue(f"infrax-bench-{uuid.uuid4().hex[:12]}", connection=redis)
    workers = _workers(url, queue.name, count)
    finished = FinishedJobRegistry(queue=queue)
    try:
        _wait(lambda: len(Worker.all(queue=queue)) == count, READY_TIMEOUT_S, "workers start")
        began = time.perf_counter()
        for _ in range(tasks):
            queue.enqueue("bench.rq_side.noop", result_ttl=600)
        _wait(lambda: finished.count >= tasks, RUN_TIMEOUT_S, "every job finishing")
        wall_s = time.perf_counter() - began
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait()
        queue.empty()
        for job_id in finished.get_job_ids():
            finished.remove(job_id, delete_job=True)
    print(json.dumps({"tasks": tasks, "wall_s": wall_s}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
