"""The SQLite database of a service beside the queue (the scheduler's, the provisioner's).

One connection in WAL mode, used from worker threads one transaction at a time: every
transaction is a function run whole in one thread hop (ARCHITECTURE.md, "Where the speed comes
from"), committed or rolled back there. A caller cancelled mid-transaction never lets a second
one start on the connection before the first ends (the lock is held in the thread, and the
hop is shielded).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Self, TypeVar

__all__ = ["Database"]

T = TypeVar("T")


class Database:
    """Subclasses add one method per transaction, each calling `_txn`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    async def connect(cls, path: Path, schema: str) -> Self:
        """Open (creating) the database at `path` and apply `schema` (idempotent DDL)."""
        path.parent.mkdir(parents=True, exist_ok=True)

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.executescript(f"BEGIN IMMEDIATE; {schema} COMMIT;")
            return conn

        return cls(await asyncio.to_thread(connect))

    async def close(self) -> None:
        def close() -> None:
            with self._lock:
                self._conn.close()

        await asyncio.to_thread(close)

    async def _txn(self, fn: Callable[[sqlite3.Connection], T], write: bool = True) -> T:
        def run() -> T:
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    result = fn(self._conn)
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
                return result

        return await asyncio.shield(asyncio.to_thread(run))

    async def healthy(self) -> bool:
        def txn(conn: sqlite3.Connection) -> bool:
            return bool(conn.execute("SELECT 1").fetchone() == (1,))

        return await self._txn(txn, write=False)
