"""Group commit: the transactions of concurrent writers committed together, in one batch.

One writer commits at a time on SQLite, and each commit costs a hop to the database thread and
the writing of the WAL frames it changed. While one batch is being committed, the transactions
submitted meanwhile queue up; they then run one after the other in the next batch, and the
batch ends in one COMMIT. A transaction that fails is undone alone and its caller gets its
error: the batch is then run again with each transaction in its own savepoint (sqlite.py).
Nobody is answered before the commit that holds their change has returned (protocol.md,
"Durability"): a batch whose COMMIT fails fails every transaction in it.
Under no contention a batch holds one transaction and this costs nothing.

What follows a commit is done here, once per committed transaction and in commit order,
before its caller resumes (`committed`: the store publishes the messages), whether or not the
caller is still waiting: a caller that is cancelled gives up its future, never its job. So a
write costs the event loop one future and no task, shield or callback of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["CommitBatcher", "Outcome"]

J = TypeVar("J")

log = logging.getLogger("infrax.queue.store")

# What a transaction of a batch came to: its result, or the error that undid it alone.
Outcome = tuple[bool, object]

MAX_BATCH = 128  # transactions per commit: bounds how long the writer holds the database


def _fail(future: asyncio.Future[object], error: BaseException) -> None:
    """Fail the job's future, unless its caller gave it up; an error that reaches a caller
    cancelled meanwhile is nobody's to log."""
    if not future.done():
        future.set_exception(error)
        future.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[object]) -> None:
    future.exception()


class CommitBatcher(Generic[J]):
    """Queues jobs and hands them to `commit_batch` in batches, one batch at a time.

    `commit_batch(jobs)` commits the jobs in one transaction and returns one Outcome per job,
    in order; if it raises, every job of the batch fails with that error. `committed(result)`
    is called with the result of each job committed, in order, before its future is resolved.
    """

    def __init__(
        self,
        commit_batch: Callable[[list[J]], Awaitable[list[Outcome]]],
        committed: Callable[[object], None],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._commit_batch = commit_batch
        self._committed = committed
        self._max_batch = max_batch
        self._queued: list[tuple[J, asyncio.Future[object]]] = []
        self._draining: asyncio.Task[None] | None = None
        self.batches = 0  # how many commits so far (tests and the benchmark count them)

    def submit(self, job: J) -> asyncio.Future[object]:
        """Queue the job; the future is its result once the batch holding it has committed.

        Cancelling the future does not take the job back: it is committed all the same.
        """
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
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
                _fail(future, error)
            return
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                try:
                    self._committed(value)
                except Exception:  # the change is committed: its caller is answered anyway
                    log.exception("after commit", extra={"event": "after_commit_failed"})
                if not future.done():
                    future.set_result(value)
            else:
                assert isinstance(value, BaseException)
                _fail(future, value)
