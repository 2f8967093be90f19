"""Group commit: the transactions of concurrent writers committed together, in one batch.

One writer commits at a time on SQLite, and each commit costs a hop to the database thread and
the writing of the WAL frames it changed. While one batch is being committed, the transactions
submitted meanwhile queue up; they then run one after the other in the next batch, and the
batch ends in one COMMIT. A transaction that fails is undone alone and its caller gets its
error: the batch is then run again with each transaction in its own savepoint (sqlite.py).
Nobody is answered before the commit that holds their change has returned (protocol.md, "Durability"): a batch whose COMMIT fails fails every transaction in it.
Under no contention a batch holds one transaction and this costs nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["CommitBatcher", "Outcome"]

J = TypeVar("J")
R = TypeVar("R")

# What a transaction of a batch came to: its result, or the error that undid it alone.
Outcome = tuple[bool, object]

MAX_BATCH = 128  # transactions per commit: bounds how long the writer holds the database


def _retrieve(future: asyncio.Future[object]) -> None:
    """An error for a caller that was cancelled meanwhile is nobody's to log."""
    if not future.cancelled():
        future.exception()


class CommitBatcher(Generic[J]):
    """Queues jobs and hands them to `commit_batch` in batches, one batch at a time.

    `commit_batch(jobs)` commits the jobs in one transaction and returns one Outcome per job,
    in order; if it raises, every job of the batch fails with that error.
    """

    def __init__(
        self,
        commit_batch: Callable[[list[J]], Awaitable[list[Outcome]]],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._commit_batch = commit_batch
        self._max_batch = max_batch
        self._queued: list[tuple[J, asyncio.Future[object]]] = []
        self._draining: asyncio.Task[None] | None = None
        self.batches = 0  # how many commits so far (tests and the benchmark count them)

    def submit(self, job: J) -> asyncio.Future[object]:
        """Queue the job; the future is its result once the batch holding it has committed."""
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._queued.append((job, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return future

    async def wait_idle(self) -> None:
        """Until every queued job has been committed (or failed)."""
        while self._draining is not None:
            await asyncio.shield(self._draining)

    async def _drain(self) -> None:
        try:
            while self._queued:
                batch = self._queued[: self._max_batch]
                del self._queued[: self._max_batch]
                await self._run(batch)
        finally:
            self._draining = None

    async def _run(self, batch: list[tuple[J, asyncio.Future[object]]]) -> None:
        self.batches += 1
        try:
            outcomes = await self._commit_batch([job for job, _ in batch])
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                assert isinstance(value, BaseException)
                future.set_exception(value)
