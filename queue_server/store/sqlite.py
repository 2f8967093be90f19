"""The SQLite store: one connection, WAL, every transaction run whole in its thread.

aiosqlite runs every call in the connection's own thread; doing a whole transaction in one
such call (instead of one hop per statement) is what makes the store fast on two cores
(ARCHITECTURE.md, "Where the speed comes from"): the transaction coroutine never suspends
there and runs to its end in one step (db.py). Concurrent writers' transactions are grouped
into one commit (batching.py). Messages are published after the commit, in commit order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from clients.protocol.events import Message

from ..bus import Bus
from .batching import CommitBatcher, Outcome
from .db import Row, Txn, migrate, run_to_end
from .dialect import SQLITE
from .schema import MIGRATIONS
from .sql import SqlStore, _with_outbox

__all__ = ["SQLiteDb", "SQLiteStore"]

T = TypeVar("T")


class SQLiteDb:
    """The Db Protocol on a sqlite3 connection, used from the database thread only."""

    dialect = SQLITE

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.statements = 0

    async def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        self.statements += 1
        row: Row | None = self._conn.execute(sql, params).fetchone()
        return row

    async def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        self.statements += 1
        return self._conn.execute(sql, params).fetchall()

    async def run(self, sql: str, params: Sequence[object] = ()) -> int:
        self.statements += 1
        return self._conn.execute(sql, params).rowcount

    async def run_many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        rows = list(rows)
        self.statements += len(rows)
        self._conn.executemany(sql, rows)

    async def script(self, sql: str) -> None:
        """Statement by statement: executescript would commit the open transaction."""
        pending = ""
        for line in sql.splitlines(keepends=True):
            pending += line
            if sqlite3.complete_statement(pending):
                await self.run(pending)
                pending = ""
        if pending.strip():
            await self.run(pending)


def _in_transaction(db: SQLiteDb, begin: str, fn: Txn[T], args: tuple[Any, ...]) -> T:
    conn = db._conn
    conn.execute(begin)
    try:
        result = run_to_end(fn(db, *args))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


# One write transaction of a batch: the transaction and its arguments.
WriteJob = tuple[Txn[tuple[Any, list[Message]]], tuple[Any, ...]]


def _commit_batch(db: SQLiteDb, jobs: list[WriteJob]) -> list[Outcome]:
    """Run the jobs in one transaction and commit (batching.py).

    First without savepoints (two statements less per job): if none fails, as is the rule,
    that is the batch. If one fails, the whole batch is rolled back and run again with each
    job in a savepoint of its own, so that the failing one is undone alone. A transaction is
    a function of the database and its arguments, so running it again is running it anew.
    """
    if len(jobs) == 1:  # alone: no savepoint needed, its error undoes the whole transaction
        fn, args = jobs[0]
        try:
            return [(True, _in_transaction(db, "BEGIN IMMEDIATE", fn, args))]
        except Exception as error:
            return [(False, error)]
    conn = db._conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        outcomes: list[Outcome] = [(True, run_to_end(fn(db, *args))) for fn, args in jobs]
    except Exception:
        conn.execute("ROLLBACK")
        return _commit_in_savepoints(db, jobs)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return outcomes


def _commit_in_savepoints(db: SQLiteDb, jobs: list[WriteJob]) -> list[Outcome]:
    conn = db._conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        outcomes = [_in_savepoint(db, fn, args) for fn, args in jobs]
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return outcomes


def _in_savepoint(db: SQLiteDb, fn: Txn[T], args: tuple[Any, ...]) -> Outcome:
    conn = db._conn
    conn.execute("SAVEPOINT job")
    try:
        result = run_to_end(fn(db, *args))
    except Exception as error:
        conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")
        return False, error
    conn.execute("RELEASE job")
    return True, result


class SQLiteStore(SqlStore):
    def __init__(self, db: aiosqlite.Connection, bus: Bus, *, outbox: bool = False) -> None:
        super().__init__(bus, outbox=outbox)
        self._db = db
        self._sqlite_db = SQLiteDb(db._conn)
        self._writer: CommitBatcher[WriteJob] = CommitBatcher(
            self._commit_batch, self._publish_committed
        )

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
        await store._write(_migrate)
        return store

    @property
    def statements(self) -> int:
        """How many statements the transactions have run so far (tests count them)."""
        return self._sqlite_db.statements

    @property
    def commits(self) -> int:
        """How many batches of write transactions have been committed (tests count them)."""
        return self._writer.batches

    async def _close(self) -> None:
        await self._writer.wait_idle()
        await self._db.close()

    async def _call(self, begin: str, fn: Txn[T], args: tuple[Any, ...]) -> T:
        """Run the transaction fn(db, *args) whole in the database thread."""
        result = await self._db._execute(_in_transaction, self._sqlite_db, begin, fn, args)  # type: ignore[no-untyped-call]
        return cast(T, result)

    async def _read(self, fn: Txn[T], *args: Any) -> T:
        return await self._call("BEGIN", fn, args)

    async def _write(self, fn: Txn[tuple[T, list[Message]]], *args: Any) -> T:
        """Commit fn(db, *args) in the next batch; its messages are published once it is
        committed, before the caller resumes and even if it was cancelled meanwhile
        (batching.py)."""
        if self._outbox:
            fn, args = _with_outbox, (fn, *args)
        result, _messages = cast(tuple[T, list[Message]], await self._writer.submit((fn, args)))
        return result

    def _publish_committed(self, committed: object) -> None:
        _result, messages = cast(tuple[Any, list[Message]], committed)
        self._bus.publish(messages)

    async def _commit_batch(self, jobs: list[WriteJob]) -> list[Outcome]:
        outcomes = await self._db._execute(_commit_batch, self._sqlite_db, jobs)  # type: ignore[no-untyped-call]
        return cast(list[Outcome], outcomes)

    async def healthy(self) -> bool:
        async def probe(db: SQLiteDb) -> bool:
            return await db.one("SELECT 1") == (1,)

        return await self._read(probe)


async def _migrate(db: SQLiteDb) -> tuple[int, list[Message]]:
    return await migrate(db, MIGRATIONS), []
