"""The SQLite store: one connection, WAL, every transaction run whole in its thread.

aiosqlite runs every call in the connection's own thread; doing a whole transaction in one
such call (instead of one hop per statement) is what makes the store fast on two cores
(ARCHITECTURE.md, "Where the speed comes from"): the transaction coroutine never suspends
there and runs to its end in one step (db.py). Messages are published after the commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from clients.protocol.events import Message

from ..bus import Bus
from .db import Row, Txn, migrate, run_to_end
from .dialect import SQLITE
from .schema import MIGRATIONS
from .sql import SqlStore

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


class SQLiteStore(SqlStore):
    def __init__(self, db: aiosqlite.Connection, bus: Bus, *, outbox: bool = False) -> None:
        super().__init__(bus, outbox=outbox)
        self._db = db
        self._sqlite_db = SQLiteDb(db._conn)

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

    async def _close(self) -> None:
        await self._db.close()

    async def _call(self, begin: str, fn: Txn[T], args: tuple[Any, ...]) -> T:
        """Run the transaction fn(db, *args) whole in the database thread."""
        result = await self._db._execute(_in_transaction, self._sqlite_db, begin, fn, args)  # type: ignore[no-untyped-call]
        return cast(T, result)

    async def _read(self, fn: Txn[T], *args: Any) -> T:
        return await self._call("BEGIN", fn, args)

    async def _commit(
        self, fn: Txn[tuple[T, list[Message]]], args: tuple[Any, ...]
    ) -> tuple[T, list[Message]]:
        return await self._call("BEGIN IMMEDIATE", fn, args)

    async def healthy(self) -> bool:
        async def probe(db: SQLiteDb) -> bool:
            return await db.one("SELECT 1") == (1,)

        return await self._read(probe)


async def _migrate(db: SQLiteDb) -> tuple[int, list[Message]]:
    return await migrate(db, MIGRATIONS), []
