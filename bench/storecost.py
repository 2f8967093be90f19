"""What the SQLite store costs per task, measured without HTTP: the lifecycle driven through
the store in this process, as the claimWork and report handlers drive it.

    .venv/bin/python -m bench.storecost                 # 3 rounds of 3,000 tasks
    .venv/bin/python -m bench.storecost --tasks 500 --rounds 1

Creators call `create_task`; workers do what the claimWork handler does (touch the worker,
claim up to 32, and wait on the bus for a wake-up when nothing was claimed), then resolve each
claimed run. Per task it prints the SQL statements the transactions ran and the commits (both
deterministic but for how the batches and claims happened to fall), and the CPU seconds of
the database thread (its own CPU clock, so little moved by other load on the machine) and of
the event loop's thread. What a change to the store saves shows here first; the lifecycle
figure of `python -m bench` then says what it is worth with HTTP around it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec

from clients.protocol.ids import new_slugid
from clients.protocol.states import ReasonResolved, RunState
from clients.protocol.tasks import CreateTaskRequest
from queue_server.bus import Bus
from queue_server.core.taskdef import normalize_task
from queue_server.store.sqlite import SQLiteStore

from .client import task_definition

__all__ = ["StoreCost", "measure"]

QUEUE = "bench/store"
BATCH = 32
HOUR_MS = 3_600_000
MAX_DEADLINE_MS = 5 * 24 * HOUR_MS


@dataclass(frozen=True)
class StoreCost:
    tasks: int
    statements: int
    commits: int
    claim_calls: int
    db_thread_cpu_s: float
    loop_cpu_s: float

    def line(self) -> str:
        n = self.tasks
        return (
            f"{n} tasks: {self.statements / n:.2f} statements/task, {self.commits / n:.2f}"
            f" commits/task, {self.claim_calls / n:.3f} claim calls/task,"
            f" database thread {1e6 * self.db_thread_cpu_s / n:.0f} us/task,"
            f" event loop {1e6 * self.loop_cpu_s / n:.0f} us/task"
        )


def _thread_cpu(store: SQLiteStore) -> float:
    thread = store._db._thread  # aiosqlite's connection thread
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


async def _create(store: SQLiteStore, count: int) -> None:
    for _ in range(count):
        now_ms = int(time.time() * 1000)
        body = msgspec.json.encode(task_definition(QUEUE, now_ms / 1000))
        request = msgspec.json.decode(body, type=CreateTaskRequest)
        task_id = new_slugid()
        task, times = normalize_task(
            task_id, request, now_ms=now_ms, max_deadline_ms=MAX_DEADLINE_MS
        )
        await store.create_task(task_id, task, times.deadline, times.expires, now_ms)


async def _work(store: SQLiteStore, bus: Bus, worker_id: str, done: _Done) -> None:
    while True:
        now_ms = int(time.time() * 1000)
        await store.touch_worker(QUEUE, "bench", worker_id, now_ms)
        with bus.waiting(QUEUE) as woken:
            while True:
                woken.clear()
                now_ms = int(time.time() * 1000)
                done.claim_calls += 1
                claimed = await store.claim_work(
                    QUEUE, "bench", worker_id, BATCH, now_ms, now_ms + 1_200_000
                )
                if claimed:
                    break
                await woken.wait()
        await asyncio.gather(*(_resolve(store, c.status.task_id, c.run_id, done) for c in claimed))


async def _resolve(store: SQLiteStore, task_id: str, run_id: int, done: _Done) -> None:
    now_ms = int(time.time() * 1000)
    await store.resolve_run(task_id, run_id, RunState.completed, ReasonResolved.completed, now_ms)
    done.count()


class _Done:
    def __init__(self, total: int) -> None:
        self.total = total
        self.resolved = 0
        self.claim_calls = 0
        self.finished = asyncio.Event()

    def count(self) -> None:
        self.resolved += 1
        if self.resolved == self.total:
            self.finished.set()


async def measure(tasks: int, creators: int = 8, workers: int = 8) -> StoreCost:
    """One round on a fresh SQLite file: `tasks` no-op tasks created, claimed, completed."""
    with tempfile.TemporaryDirectory() as directory:
        bus = Bus()
        store = await SQLiteStore.open(Path(directory) / "queue.sqlite3", bus)
        try:
            done = _Done(tasks)
            statements, commits = store.statements, store.commits
            db_cpu, loop_cpu = _thread_cpu(store), time.thread_time()
            async with asyncio.TaskGroup() as group:
                running = [
                    group.create_task(_work(store, bus, f"w{i}", done)) for i in range(workers)
                ]
                for i in range(creators):
                    group.create_task(_create(store, tasks // creators + (i < tasks % creators)))
                await done.finished.wait()
                for worker in running:
                    worker.cancel()
            return StoreCost(
                tasks,
                store.statements - statements,
                store.commits - commits,
                done.claim_calls,
                _thread_cpu(store) - db_cpu,
                time.thread_time() - loop_cpu,
            )
        finally:
            await store.close()


async def _main(tasks: int, rounds: int) -> None:
    await measure(min(tasks, 300))  # warm-up: imports, caches
    results = []
    for _ in range(rounds):
        result = await measure(tasks)
        results.append(result)
        print(result.line(), flush=True)
    if rounds > 1:
        db = statistics.median(r.db_thread_cpu_s / r.tasks for r in results)
        stmts = statistics.median(r.statements / r.tasks for r in results)
        print(f"median: {stmts:.2f} statements/task, database thread {1e6 * db:.0f} us/task")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(_main(args.tasks, args.rounds))


if __name__ == "__main__":
    main()
