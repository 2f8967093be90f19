"""Which replica holds each worker's relay connection (protocol.md §18.3, "Several replicas").

One row per worker: the replica holding its newest relay connection, the address other
replicas reach that replica at, and which of its connections it is. A replica writes the row
when a worker's connection is attached, replacing any row there (the newest connection wins,
wherever it landed), and deletes it when that connection ends, but only while the row is still
that connection's. A replica killed with kill -9 leaves its rows behind: the replica that finds
one stale deletes it the same way (queue_server/replica_relays.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from clients.protocol.events import Message

from .artifact_methods import quiet
from .db import Db, Txn

__all__ = ["RelayHolder", "RelayHolderMethods"]

T = TypeVar("T")


@dataclass(frozen=True)
class RelayHolder:
    replica_id: str  # random per process: a restarted replica is another one
    replica_url: str  # where the other replicas reach it (--advertise-url)
    connection_id: str  # which of its connections of this worker


async def _record(
    db: Db, group: str, worker: str, holder: RelayHolder, now_ms: int
) -> RelayHolder | None:
    previous = await _find(db, group, worker, db.dialect.for_update)
    await db.run(
        "INSERT INTO relay_holders (worker_group, worker_id, replica_id, replica_url,"
        " connection_id, since) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (worker_group, worker_id) DO UPDATE SET replica_id = excluded.replica_id,"
        " replica_url = excluded.replica_url, connection_id = excluded.connection_id,"
        " since = excluded.since",
        (group, worker, holder.replica_id, holder.replica_url, holder.connection_id, now_ms),
    )
    return previous


async def _forget(db: Db, group: str, worker: str, connection_id: str) -> bool:
    deleted = await db.run(
        "DELETE FROM relay_holders WHERE worker_group = ? AND worker_id = ? AND connection_id = ?",
        (group, worker, connection_id),
    )
    return deleted > 0


async def _find(db: Db, group: str, worker: str, lock: str = "") -> RelayHolder | None:
    row = await db.one(
        "SELECT replica_id, replica_url, connection_id FROM relay_holders"
        " WHERE worker_group = ? AND worker_id = ?" + lock,
        (group, worker),
    )
    return None if row is None else RelayHolder(str(row[0]), str(row[1]), str(row[2]))


async def _forget_replica(db: Db, replica_id: str) -> int:
    return await db.run("DELETE FROM relay_holders WHERE replica_id = ?", (replica_id,))


class RelayHolderMethods:
    """Mixed into SqlStore, which provides `_read` and `_write`."""

    async def _read(self, fn: Txn[T], *args: Any) -> T:
        raise NotImplementedError

    async def _write(self, fn: Txn[tuple[T, list[Message]]], *args: Any) -> T:
        raise NotImplementedError

    async def record_relay_holder(
        self, worker_group: str, worker_id: str, holder: RelayHolder, now_ms: int
    ) -> RelayHolder | None:
        """Record `holder`, replacing the row there; the holder it replaced."""
        return await self._write(quiet(_record), worker_group, worker_id, holder, now_ms)

    async def forget_relay_holder(
        self, worker_group: str, worker_id: str, connection_id: str
    ) -> bool:
        """Delete the row if it is still this connection's; whether it was."""
        return await self._write(quiet(_forget), worker_group, worker_id, connection_id)

    async def relay_holder(self, worker_group: str, worker_id: str) -> RelayHolder | None:
        return await self._read(_find, worker_group, worker_id)

    async def forget_relay_replica(self, replica_id: str) -> int:
        """Delete every row of this replica (it is shutting down); how many."""
        return await self._write(quiet(_forget_replica), replica_id)
