"""The SQLite store: one connection, WAL, every transaction run whole in its thread.

aiosqlite runs every call in the connection's own thread; doing a whole transaction in one
such call (instead of one hop per statement) is what makes the store fast on two cores
(ARCHITECTURE.md, "Where the speed comes from"). Messages are published after the commit.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from clients.protocol import queues as q
from clients.protocol.errors import ApiError
from clients.protocol.events import Message
from clients.protocol.states import Priority, ReasonResolved, RunState
from clients.protocol.tasks import Task, TaskAndStatus, TaskStatus

from ..bus import Bus
from ..core import lifecycle
from ..core.pages import Page
from . import client_txns, listings, outbox, queue_txns, rerun_txns, task_txns
from .client_txns import ClientRow
from .outbox import OutboxRow
from .queue_txns import Claimed
from .schema import MIGRATIONS
from .sqlite_artifacts import SQLiteArtifacts

__all__ = ["SQLiteStore"]

T = TypeVar("T")


def _in_transaction(
    conn: sqlite3.Connection, begin: str, fn: Callable[..., T], args: tuple[Any, ...]
) -> T:
    conn.execute(begin)
    try:
        result = fn(conn, *args)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _migrate(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    current = row[0] or 0
    for version, script in enumerate(MIGRATIONS, start=1):
        if version > current:
            conn.executescript(
                f"BEGIN IMMEDIATE; {script}; INSERT INTO schema_version VALUES ({version}); COMMIT;"
            )
    return len(MIGRATIONS)


def _with_outbox(
    conn: sqlite3.Connection, fn: Callable[..., tuple[T, list[Message]]], *args: Any
) -> tuple[T, list[Message]]:
    """fn's transaction, plus an outbox row for each of its messages (outbox.py)."""
    result, messages = fn(conn, *args)
    if messages:
        outbox.insert_messages(conn, messages, int(time.time() * 1000))
    return result, messages


class SQLiteStore(SQLiteArtifacts):
    def __init__(self, db: aiosqlite.Connection, bus: Bus, *, outbox: bool = False) -> None:
        self._db = db
        self._bus = bus
        self._outbox = outbox

    @classmethod
    async def open(cls, path: Path | str, bus: Bus, *, outbox: bool = False) -> SQLiteStore:
        """Open (and migrate) the database; with ``outbox``, every transaction also writes
        its messages to the AMQP outbox."""
        db = await aiosqlite.connect(str(path), isolation_level=None)
        await db.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a commit survives the process being killed; only a power loss
        # may lose the last transactions (protocol.md, "Durability").
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute("PRAGMA busy_timeout = 10000")
        store = cls(db, bus, outbox=outbox)
        await store._call(_migrate)
        return store

    async def close(self) -> None:
        await self._db.close()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(conn, *args) in the database thread, outside any transaction."""
        result = await self._db._execute(fn, self._db._conn, *args)  # type: ignore[no-untyped-call]
        return cast(T, result)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._call(_in_transaction, "BEGIN", fn, args)

    async def _write(self, fn: Callable[..., tuple[T, list[Message]]], *args: Any) -> T:
        """Commit fn's transaction and publish its messages, even if the caller is cancelled."""
        return await asyncio.shield(asyncio.ensure_future(self._commit_and_publish(fn, args)))

    async def _commit_and_publish(
        self, fn: Callable[..., tuple[T, list[Message]]], args: tuple[Any, ...]
    ) -> T:
        if self._outbox:
            fn, args = _with_outbox, (fn, *args)
        outcome: tuple[T, list[Message]] = await self._call(
            _in_transaction, "BEGIN IMMEDIATE", fn, args
        )
        self._bus.publish(outcome[1])
        return outcome[0]

    # -- tasks ------------------------------------------------------------------------------

    async def create_task(
        self, task_id: str, task: Task, deadline: int, expires: int, now_ms: int
    ) -> TaskStatus:
        def txn(conn: sqlite3.Connection) -> tuple[TaskStatus, list[Message]]:
            status, messages, _new = task_txns.create_task(
                conn, task_id, task, deadline, expires, now_ms
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
        def txn(conn: sqlite3.Connection) -> tuple[str, int, int | None] | None:
            try:
                return task_txns.group_row(conn, task_group_id)
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
        def txn(conn: sqlite3.Connection) -> tuple[tuple[int, list[str]], list[Message]]:
            size, canceled, messages = task_txns.cancel_task_group(conn, task_group_id, now_ms)
            return (size, canceled), messages

        return await self._write(txn)

    async def change_task_group_priority(
        self, task_group_id: str, priority: Priority, now_ms: int
    ) -> tuple[str, list[str]]:
        def txn(conn: sqlite3.Connection) -> tuple[tuple[str, list[str]], list[Message]]:
            scheduler_id, changed, messages = task_txns.change_group_priority(
                conn, task_group_id, priority, now_ms
            )
            return (scheduler_id, changed), messages

        return await self._write(txn)

    # -- claims and resolutions -----------------------------------------------------------------

    async def touch_worker(
        self, task_queue_id: str, worker_group: str, worker_id: str, now_ms: int
    ) -> int | None:
        def txn(conn: sqlite3.Connection) -> tuple[int | None, list[Message]]:
            return queue_txns.touch_worker(conn, task_queue_id, worker_group, worker_id, now_ms), []

        return await self._write(txn)

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
        def txn(conn: sqlite3.Connection) -> tuple[None, list[Message]]:
            return None, queue_txns.release_claims(conn, claims, now_ms)

        await self._write(txn)

    async def reclaim_task(
        self, task_id: str, run_id: int, now_ms: int, taken_until_ms: int
    ) -> tuple[TaskStatus, str, str]:
        def txn(conn: sqlite3.Connection) -> tuple[tuple[TaskStatus, str, str], list[Message]]:
            return queue_txns.reclaim_task(conn, task_id, run_id, now_ms, taken_until_ms), []

        return await self._write(txn)

    async def resolve_run(
        self, task_id: str, run_id: int, state: RunState, reason: ReasonResolved, now_ms: int
    ) -> TaskStatus:
        return await self._write(task_txns.resolve_run, task_id, run_id, state, reason, now_ms)

    async def resolve_due(self, now_ms: int, limit: int) -> int:
        return await self._write(task_txns.resolve_due, now_ms, limit)

    async def expire(self, now_ms: int, limit: int) -> int:
        def txn(conn: sqlite3.Connection) -> tuple[int, list[Message]]:
            return queue_txns.expire(conn, now_ms, limit), []

        return await self._write(txn)

    # -- task queues and workers ------------------------------------------------------------------

    async def counts(self, task_queue_ids: list[str]) -> list[q.TaskQueueCounts]:
        def txn(conn: sqlite3.Connection) -> list[q.TaskQueueCounts]:
            return [listings.counts(conn, queue) for queue in task_queue_ids]

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
        def txn(conn: sqlite3.Connection) -> tuple[bool, list[Message]]:
            return queue_txns.quarantine_worker(
                conn, task_queue_id, worker_group, worker_id, until_ms, detail, now_ms
            ), []

        return await self._write(txn)

    async def declare_worker(
        self,
        task_queue_id: str,
        worker_group: str,
        worker_id: str,
        expires_ms: int | None,
        now_ms: int,
        host: bytes | None = None,
    ) -> None:
        def txn(conn: sqlite3.Connection) -> tuple[None, list[Message]]:
            queue_txns.declare_worker(
                conn, task_queue_id, worker_group, worker_id, expires_ms, now_ms, host
            )
            return None, []

        await self._write(txn)

    # -- clients ----------------------------------------------------------------------------------

    async def get_client(self, client_id: str) -> ClientRow | None:
        return await self._read(client_txns.get_client, client_id)

    async def create_client(self, client: ClientRow) -> bool:
        def txn(conn: sqlite3.Connection) -> tuple[bool, list[Message]]:
            return client_txns.create_client(conn, client), []

        return await self._write(txn)

    async def reset_client(self, client_id: str, salt: str, now_ms: int) -> ClientRow | None:
        def txn(conn: sqlite3.Connection) -> tuple[ClientRow | None, list[Message]]:
            return client_txns.reset_client(conn, client_id, salt, now_ms), []

        return await self._write(txn)

    async def delete_client(self, client_id: str) -> None:
        def txn(conn: sqlite3.Connection) -> tuple[None, list[Message]]:
            client_txns.delete_client(conn, client_id)
            return None, []

        await self._write(txn)

    async def list_clients(self, prefix: str, page: Page) -> tuple[list[ClientRow], str | None]:
        return await self._read(client_txns.list_clients, prefix, page)

    # -- the AMQP outbox ---------------------------------------------------------------------------

    async def outbox_rows(self, limit: int) -> list[OutboxRow]:
        return await self._read(outbox.pending_rows, limit)

    async def outbox_delete(self, up_to_seq: int) -> int:
        """Delete the rows the broker confirmed (seq <= up_to_seq)."""
        return await self._call(
            _in_transaction, "BEGIN IMMEDIATE", outbox.delete_published, (up_to_seq,)
        )

    async def outbox_backlog(self) -> int:
        return await self._read(outbox.backlog)

    async def healthy(self) -> bool:
        def probe(conn: sqlite3.Connection) -> bool:
            return bool(conn.execute("SELECT 1").fetchone() == (1,))

        return await self._call(probe)
