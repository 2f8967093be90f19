"""The store both databases share: every Store method as one transaction of the
transaction modules, run by the backend's `_read` or `_write` (db.py).

A backend's `_write` commits and then publishes the messages on the bus, even when the
awaiting request is cancelled, so that a committed change is never left without its messages
or wake-ups.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from clients.protocol import queues as q
from clients.protocol.errors import ApiError
from clients.protocol.events import Message
from clients.protocol.states import Priority, ReasonResolved, RunState
from clients.protocol.tasks import Task, TaskAndStatus, TaskStatus

from ..bus import Bus
from ..core import lifecycle
from ..core.pages import Page
from . import client_txns, listings, outbox, queue_txns, rerun_txns, task_txns
from .artifact_methods import ArtifactMethods, quiet
from .client_txns import ClientRow
from .db import Db, Txn
from .outbox import OutboxRow
from .queue_txns import Claimed
from .relay_holders import RelayHolderMethods

__all__ = ["SqlStore"]

T = TypeVar("T")

# How long a worker's sighting recorded by this process stands for its later claimWork calls
# (protocol.md, "claimWork"): lastDateActive moves at this granularity, and a quarantine set
# or lifted through another replica applies here within it.
TOUCH_INTERVAL_MS = 1_000
_SEEN_SWEEP = 10_000  # sightings remembered before the stale ones are forgotten


async def _with_outbox(
    db: Db, fn: Txn[tuple[T, list[Message]]], *args: Any
) -> tuple[T, list[Message]]:
    """fn's transaction, plus an outbox row for each of its messages (outbox.py)."""
    result, messages = await fn(db, *args)
    if messages:
        await outbox.insert_messages(db, messages, int(time.time() * 1000))
    return result, messages


class SqlStore(ArtifactMethods, RelayHolderMethods, ABC):
    """Implements the Store Protocol (base.py) on a backend's transactions."""

    def __init__(self, bus: Bus, *, outbox: bool = False) -> None:
        self._bus = bus
        self._outbox = outbox
        # (task queue, worker group, worker id) -> (when recorded, its quarantine end)
        self._seen: dict[tuple[str, str, str], tuple[int, int | None]] = {}

    @abstractmethod
    async def _read(self, fn: Txn[T], *args: Any) -> T:
        """fn(db, *args) in a read-only transaction."""

    @abstractmethod
    async def _write(self, fn: Txn[tuple[T, list[Message]]], *args: Any) -> T:
        """Commit fn(db, *args) (with the outbox rows of its messages, when the store has the
        outbox: `_with_outbox`) and publish its messages, even if the caller is cancelled."""

    @abstractmethod
    async def healthy(self) -> bool: ...

    # -- the AMQP outbox ---------------------------------------------------------------------

    async def outbox_rows(self, limit: int) -> list[OutboxRow]:
        return await self._read(outbox.pending_rows, limit)

    async def outbox_delete(self, up_to_seq: int) -> int:
        """Delete the rows the broker confirmed (seq <= up_to_seq)."""
        return await self._write(quiet(outbox.delete_published), up_to_seq)

    async def outbox_backlog(self) -> int:
        return await self._read(outbox.backlog)

    @abstractmethod
    async def _close(self) -> None:
        """Release the connections."""

    async def close(self) -> None:
        """Let the writes under way finish (their callers may be gone), then disconnect."""
        await self._close()

    # -- tasks ------------------------------------------------------------------------------

    async def create_task(
        self, task_id: str, task: Task, deadline: int, expires: int, now_ms: int
    ) -> TaskStatus:
        async def txn(db: Db) -> tuple[TaskStatus, list[Message]]:
            status, messages, _new = await task_txns.create_task(
                db, task_id, task, deadline, expires, now_ms
            )
            return status, messages

        return await self._write(txn)

    async def get_record(self, task_id: str) -> TaskAndStatus | None:
        found = await self._read(listings.records, [task_id])
        return found[0] if found else None

    async def get_records(self, task_ids: list[str]) -> list[TaskAndStatus]:
        return await self._read(listings.records, task_ids)

    async def _change(
        self, task_id: str, change: Callable[[lifecycle.TaskRecord], list[Message]], now_ms: int
    ) -> TaskStatus:
        return await self._write(task_txns.change_task, task_id, change, now_ms)

    async def schedule_task(self, task_id: str, now_ms: int) -> TaskStatus:
        return await self._change(task_id, lambda r: lifecycle.schedule(r, now_ms), now_ms)

    async def rerun_task(self, task_id: str, now_ms: int) -> TaskStatus:
        return await self._change(task_id, lambda r: lifecycle.rerun(r, now_ms), now_ms)

    async def rerun_subtree(
        self, task_id: str, now_ms: int, authorize: rerun_txns.Authorize
    ) -> tuple[TaskStatus, list[str]]:
        return await self._write(rerun_txns.rerun_subtree, task_id, now_ms, authorize)

    async def cancel_task(self, task_id: str, now_ms: int) -> TaskStatus:
        return await self._change(task_id, lambda r: lifecycle.cancel(r, now_ms), now_ms)

    async def change_task_priority(
        self, task_id: str, priority: Priority, now_ms: int
    ) -> TaskStatus:
        return await self._write(task_txns.change_priority, task_id, priority, now_ms)

    async def list_dependents(
        self, task_id: str, page: Page
    ) -> tuple[list[TaskAndStatus], str | None]:
        return await self._read(listings.list_dependents, task_id, page)

    # -- task groups --------------------------------------------------------------------------

    async def get_task_group(self, task_group_id: str) -> tuple[str, int, int | None] | None:
        async def txn(db: Db) -> tuple[str, int, int | None] | None:
            try:
                return await task_txns.group_row(db, task_group_id)
            except ApiError:
                return None

        return await self._read(txn)

    async def list_task_group(
        self, task_group_id: str, page: Page
    ) -> tuple[list[TaskAndStatus], str | None]:
        return await self._read(listings.list_task_group, task_group_id, page)

    async def seal_task_group(self, task_group_id: str, now_ms: int) -> tuple[str, int, int | None]:
        return await self._write(task_txns.seal_task_group, task_group_id, now_ms)

    async def cancel_task_group(self, task_group_id: str, now_ms: int) -> tuple[int, list[str]]:
        async def txn(db: Db) -> tuple[tuple[int, list[str]], list[Message]]:
            size, canceled, messages = await task_txns.cancel_task_group(db, task_group_id, now_ms)
            return (size, canceled), messages

        return await self._write(txn)

    async def change_task_group_priority(
        self, task_group_id: str, priority: Priority, now_ms: int
    ) -> tuple[str, list[str]]:
        async def txn(db: Db) -> tuple[tuple[str, list[str]], list[Message]]:
            scheduler_id, changed, messages = await task_txns.change_group_priority(
                db, task_group_id, priority, now_ms
            )
            return (scheduler_id, changed), messages

        return await self._write(txn)

    # -- claims and resolutions -----------------------------------------------------------------

    async def touch_worker(
        self, task_queue_id: str, worker_group: str, worker_id: str, now_ms: int
    ) -> int | None:
        """Record the sighting, unless this process recorded one less than TOUCH_INTERVAL_MS
        ago: a worker polling many times a second writes its row once a second."""
        key = (task_queue_id, worker_group, worker_id)
        seen = self._seen.get(key)
        if seen is None or not 0 <= now_ms - seen[0] < TOUCH_INTERVAL_MS:

            async def txn(db: Db) -> tuple[int | None, list[Message]]:
                return await queue_txns.touch_worker(
                    db, task_queue_id, worker_group, worker_id, now_ms
                ), []

            seen = (now_ms, await self._write(txn))
            if len(self._seen) >= _SEEN_SWEEP:
                self._seen = {
                    k: v for k, v in self._seen.items() if now_ms - v[0] < TOUCH_INTERVAL_MS
                }
            self._seen[key] = seen
        until = seen[1]
        return until if until is not None and until > now_ms else None

    async def claim_work(
        self,
        task_queue_id: str,
        worker_group: str,
        worker_id: str,
        count: int,
        now_ms: int,
        taken_until_ms: int,
    ) -> list[Claimed]:
        return await self._write(
            queue_txns.claim_work,
            task_queue_id,
            worker_group,
            worker_id,
            count,
            now_ms,
            taken_until_ms,
        )

    async def release_claims(self, claims: list[Claimed], now_ms: int) -> None:
        async def txn(db: Db) -> tuple[None, list[Message]]:
            return None, await queue_txns.release_claims(db, claims, now_ms)

        await self._write(txn)

    async def reclaim_task(
        self, task_id: str, run_id: int, now_ms: int, taken_until_ms: int
    ) -> tuple[TaskStatus, str, str]:
        async def txn(db: Db) -> tuple[tuple[TaskStatus, str, str], list[Message]]:
            return await queue_txns.reclaim_task(db, task_id, run_id, now_ms, taken_until_ms), []

        return await self._write(txn)

    async def resolve_run(
        self, task_id: str, run_id: int, state: RunState, reason: ReasonResolved, now_ms: int
    ) -> TaskStatus:
        return await self._write(task_txns.resolve_run, task_id, run_id, state, reason, now_ms)

    async def resolve_due(self, now_ms: int, limit: int) -> int:
        return await self._write(task_txns.resolve_due, now_ms, limit)

    async def expire(self, now_ms: int, limit: int) -> int:
        async def txn(db: Db) -> tuple[int, list[Message]]:
            return await queue_txns.expire(db, now_ms, limit), []

        return await self._write(txn)

    # -- task queues and workers ------------------------------------------------------------------

    async def counts(self, task_queue_ids: list[str]) -> list[q.TaskQueueCounts]:
        async def txn(db: Db) -> list[q.TaskQueueCounts]:
            return [await listings.counts(db, queue) for queue in task_queue_ids]

        return await self._read(txn)

    async def list_pending(
        self, task_queue_id: str, page: Page
    ) -> tuple[list[q.PendingTaskItem], str | None]:
        return await self._read(listings.list_pending, task_queue_id, page)

    async def list_claimed(
        self, task_queue_id: str, page: Page
    ) -> tuple[list[q.ClaimedTaskItem], str | None]:
        return await self._read(listings.list_claimed, task_queue_id, page)

    async def list_task_queues(
        self, prefix: str, page: Page, now_ms: int
    ) -> tuple[list[q.TaskQueue], str | None]:
        rows, token = await self._read(listings.list_task_queues, prefix, page, now_ms)
        return [listings.task_queue_of_row(row) for row in rows], token

    async def get_task_queue(self, task_queue_id: str, now_ms: int) -> q.TaskQueue | None:
        return await self._read(listings.task_queue, task_queue_id, now_ms)

    async def list_provisioners(
        self, page: Page, now_ms: int
    ) -> tuple[list[tuple[str, int, int]], str | None]:
        rows, token = await self._read(listings.list_provisioners, page, now_ms)
        return [(row[0], row[1], row[2]) for row in rows], token

    async def list_workers(
        self, task_queue_id: str, quarantined: bool | None, page: Page, now_ms: int
    ) -> tuple[list[q.WorkerListItem], str | None]:
        return await self._read(listings.list_workers, task_queue_id, quarantined, page, now_ms)

    async def get_worker(
        self, task_queue_id: str, worker_group: str, worker_id: str, now_ms: int
    ) -> q.WorkerResponse | None:
        return await self._read(listings.get_worker, task_queue_id, worker_group, worker_id, now_ms)

    async def quarantine_worker(
        self,
        task_queue_id: str,
        worker_group: str,
        worker_id: str,
        until_ms: int,
        detail: dict[str, object],
        now_ms: int,
    ) -> bool:
        async def txn(db: Db) -> tuple[bool, list[Message]]:
            return await queue_txns.quarantine_worker(
                db, task_queue_id, worker_group, worker_id, until_ms, detail, now_ms
            ), []

        found = await self._write(txn)
        # After the commit: a sighting recorded before it is not to stand for the next claims.
        self._seen.pop((task_queue_id, worker_group, worker_id), None)
        return found

    async def declare_worker(
        self,
        task_queue_id: str,
        worker_group: str,
        worker_id: str,
        expires_ms: int | None,
        now_ms: int,
        host: bytes | None = None,
    ) -> None:
        async def txn(db: Db) -> tuple[None, list[Message]]:
            await queue_txns.declare_worker(
                db, task_queue_id, worker_group, worker_id, expires_ms, now_ms, host
            )
            return None, []

        await self._write(txn)

    # -- clients ----------------------------------------------------------------------------------

    async def get_client(self, client_id: str) -> ClientRow | None:
        return await self._read(client_txns.get_client, client_id)

    async def create_client(self, client: ClientRow) -> bool:
        async def txn(db: Db) -> tuple[bool, list[Message]]:
            return await client_txns.create_client(db, client), []

        return await self._write(txn)

    async def reset_client(self, client_id: str, salt: str, now_ms: int) -> ClientRow | None:
        async def txn(db: Db) -> tuple[ClientRow | None, list[Message]]:
            return await client_txns.reset_client(db, client_id, salt, now_ms), []

        return await self._write(txn)

    async def delete_client(self, client_id: str) -> None:
        async def txn(db: Db) -> tuple[None, list[Message]]:
            await client_txns.delete_client(db, client_id)
            return None, []

        await self._write(txn)

    async def list_clients(self, prefix: str, page: Page) -> tuple[list[ClientRow], str | None]:
        return await self._read(client_txns.list_clients, prefix, page)
