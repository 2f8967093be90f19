"""Tasks written straight into a fresh data directory before its server starts.

Figures that need a deep queue (10^5 pending tasks) or 10,000 dependents would spend minutes
creating them over HTTP; what they measure comes after. The store's own `create_task` writes
them (the same transaction createTask runs, many at a time so that they share commits), then
the store is closed and the server opened on the directory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec

from clients.protocol.ids import new_slugid
from clients.protocol.tasks import CreateTaskRequest
from queue_server.bus import Bus
from queue_server.core.taskdef import normalize_task
from queue_server.settings import Settings
from queue_server.store.sqlite import SQLiteStore

from .client import task_definition

__all__ = ["Filler", "fill_pending", "filling"]

WRITERS = 256
MAX_DEADLINE_MS = 5 * 86_400_000


class Filler:
    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._now = time.time()

    async def create(
        self, task_queue_id: str, dependencies: Sequence[str] = (), task_id: str | None = None
    ) -> str:
        task_id = task_id or new_slugid()
        definition = task_definition(task_queue_id, self._now)
        if dependencies:
            definition["dependencies"] = list(dependencies)
        request = msgspec.convert(definition, CreateTaskRequest)
        now_ms = int(self._now * 1000)
        task, times = normalize_task(
            task_id, request, now_ms=now_ms, max_deadline_ms=MAX_DEADLINE_MS
        )
        await self._store.create_task(task_id, task, times.deadline, times.expires, now_ms)
        return task_id

    async def create_many(
        self, task_queue_ids: Sequence[str], dependencies: Sequence[str] = ()
    ) -> list[str]:
        """One task per entry of `task_queue_ids` (repeat a queue for several), many at once."""
        created: list[str] = []

        async def writer(share: Sequence[str]) -> None:
            for queue in share:
                created.append(await self.create(queue, dependencies))

        await asyncio.gather(*(writer(task_queue_ids[i::WRITERS]) for i in range(WRITERS)))
        return created


@asynccontextmanager
async def filling(data_dir: Path) -> AsyncIterator[Filler]:
    store = await SQLiteStore.open(Settings(data_dir=data_dir).database_path, Bus())
    try:
        yield Filler(store)
    finally:
        await store.close()


async def fill_pending(data_dir: Path, task_queue_ids: Sequence[str], per_queue: int) -> None:
    """`per_queue` pending no-op tasks in each task queue."""
    async with filling(data_dir) as filler:
        await filler.create_many([queue for queue in task_queue_ids for _ in range(per_queue)])
