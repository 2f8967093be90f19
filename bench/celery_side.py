"""The Celery baseline's own process: a Celery worker on the local Redis, fed and timed here.

`python -m bench.celery_side TASKS CONCURRENCY` (Redis at $INFRAX_BENCH_REDIS) starts `celery worker` (prefork,
`acks_late`) on a task queue of its own, waits until it answers, then sends TASKS no-op tasks
and waits for every result (the Redis result backend): it prints the seconds from the first
send to the last result as JSON. Run in its own process so that Celery's blocking client and
its worker share nothing with the benchmark's event loop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from celery import Celery
from celery.result import ResultSet

__all__ = ["app", "noop"]

QUEUE_VARIABLE = "INFRAX_BENCH_CELERY_QUEUE"
REDIS_VARIABLE = "INFRAX_BENCH_REDIS"
READY_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 600.0

app = Celery(
    "infrax_bench", broker=os.environ.get(REDIS_VARIABLE), backend=os.environ.get(REDIS_VARIABLE)
)
app.conf.update(
    task_acks_late=True,  # acknowledged when done, as infrax acknowledges with reportCompleted
    task_default_queue=os.environ.get(QUEUE_VARIABLE, "infrax-bench"),
    result_expires=600,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="bench.noop")
def noop() -> None:
    """A task that does nothing: what is measured is the queue around it."""


def _worker(concurrency: int) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "celery", "-A", "bench.celery_side", "worker"]
    args += ["--pool", "prefork", "--concurrency", str(concurrency), "--loglevel", "WARNING"]
    args += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    try:
        worker.wait(10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def main(argv: list[str]) -> int:
    tasks, concurrency = int(argv[1]), int(argv[2])
    worker = _worker(concurrency)
    try:
        noop.delay().get(timeout=READY_TIMEOUT_S)  # the worker is up and consuming
        began = time.perf_counter()
        results = ResultSet([noop.delay() for _ in range(tasks)])
        results.join_native(timeout=RUN_TIMEOUT_S)
        wall_s = time.perf_counter() - began
        results.forget()
    finally:
        _stop(worker)
    print(json.dumps({"tasks": tasks, "wall_s": wall_s}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
