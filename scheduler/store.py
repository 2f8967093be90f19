"""The scheduler's SQLite store: hooks, their fire records and the claims of cron ticks.

Several scheduler processes may share one data directory (one database file, WAL). Invariants:
- a hook row holds its definition, trigger token, `next_task_id` (secret, the taskId of the
  next scheduled fire) and `next_scheduled` (ms; NULL without a schedule);
- a cron tick is fired by whoever inserts or takes over its row in `ticks`: a row is taken
  over only when its lease has run out and it is not done, so two processes never fire the
  same tick at once, and a finished tick is never fired again;
- an exchange message fires a hook for whoever inserts its (hook, message digest) row in
  `messages`, so processes that all receive the message fire the hook once;
- finishing a tick records the fire and advances the hook in the same transaction, only if
  the hook still waits for that tick (an update in between keeps its own next tick).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from clients.protocol.errors import conflict
from clients.protocol.hooks import HookDefinition
from clients.serving.database import Database

__all__ = ["FireRow", "HookRow", "HookStore", "TickClaim"]

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS hooks (
    hook_group_id TEXT NOT NULL,
    hook_id TEXT NOT NULL,
    definition BLOB NOT NULL,
    token TEXT NOT NULL,
    next_task_id TEXT NOT NULL,
    next_scheduled INTEGER,
    PRIMARY KEY (hook_group_id, hook_id)
);
CREATE INDEX IF NOT EXISTS hooks_due ON hooks (next_scheduled)
    WHERE next_scheduled IS NOT NULL;
CREATE TABLE IF NOT EXISTS fires (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    hook_group_id TEXT NOT NULL,
    hook_id TEXT NOT NULL,
    fired_by TEXT NOT NULL,
    task_id TEXT NOT NULL,
    fired_at INTEGER NOT NULL,
    result TEXT NOT NULL,
    error TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fires_by_hook ON fires (hook_group_id, hook_id, seq);
CREATE TABLE IF NOT EXISTS ticks (
    hook_group_id TEXT NOT NULL,
    hook_id TEXT NOT NULL,
    tick INTEGER NOT NULL,
    task_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    first_claimed INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hook_group_id, hook_id, tick)
);
CREATE TABLE IF NOT EXISTS messages (
    hook_group_id TEXT NOT NULL,
    hook_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    seen INTEGER NOT NULL,
    PRIMARY KEY (hook_group_id, hook_id, digest)
);
"""

_encode = msgspec.json.Encoder().encode
_decode_hook = msgspec.json.Decoder(HookDefinition).decode


@dataclass(frozen=True)
class HookRow:
    definition: HookDefinition
    token: str
    next_task_id: str
    next_scheduled: int | None


@dataclass(frozen=True)
class FireRow:
    seq: int
    hook_group_id: str
    hook_id: str
    fired_by: str
    task_id: str
    fired_at: int
    result: str
    error: str


@dataclass(frozen=True)
class TickClaim:
    hook_group_id: str
    hook_id: str
    tick: int
    task_id: str
    first_claimed: int  # the fire's `now`, the same on every retry of the tick


def _hook(row: tuple[Any, ...]) -> HookRow:
    return HookRow(_decode_hook(row[0]), row[1], row[2], row[3])


_HOOK_COLUMNS = "definition, token, next_task_id, next_scheduled"


class HookStore(Database):
    """Every method is one transaction, run in a worker thread, one at a time per process."""

    @classmethod
    async def open(cls, path: Path) -> HookStore:
        return await cls.connect(path, SCHEMA)

    # -- hooks --------------------------------------------------------------------------------

    async def get_hook(self, group: str, hook: str) -> HookRow | None:
        def txn(conn: sqlite3.Connection) -> HookRow | None:
            row = conn.execute(
                f"SELECT {_HOOK_COLUMNS} FROM hooks WHERE hook_group_id = ? AND hook_id = ?",
                (group, hook),
            ).fetchone()
            return None if row is None else _hook(row)

        return await self._txn(txn, write=False)

    async def create_hook(self, row: HookRow) -> HookRow:
        """Insert; an identical existing definition answers as created, another is 409."""
        d = row.definition

        def txn(conn: sqlite3.Connection) -> HookRow:
            found = conn.execute(
                f"SELECT {_HOOK_COLUMNS} FROM hooks WHERE hook_group_id = ? AND hook_id = ?",
                (d.hook_group_id, d.hook_id),
            ).fetchone()
            if found is not None:
                existing = _hook(found)
                if existing.definition != d:
                    raise conflict(f"hook `{d.hook_group_id}/{d.hook_id}` already exists")
                return existing
            conn.execute(
                "INSERT INTO hooks (hook_group_id, hook_id, definition, token, next_task_id,"
                " next_scheduled) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    d.hook_group_id,
                    d.hook_id,
                    _encode(d),
                    row.token,
                    row.next_task_id,
                    row.next_scheduled,
                ),
            )
            return row

        return await self._txn(txn)

    async def update_hook(self, row: HookRow) -> HookRow | None:
        """Replace definition and schedule (keeping the token); None for an unknown hook."""
        d = row.definition

        def txn(conn: sqlite3.Connection) -> HookRow | None:
            found = conn.execute(
                "SELECT token FROM hooks WHERE hook_group_id = ? AND hook_id = ?",
                (d.hook_group_id, d.hook_id),
            ).fetchone()
            if found is None:
                return None
            conn.execute(
                "UPDATE hooks SET definition = ?, next_task_id = ?, next_scheduled = ?"
                " WHERE hook_group_id = ? AND hook_id = ?",
                (_encode(d), row.next_task_id, row.next_scheduled, d.hook_group_id, d.hook_id),
            )
            return HookRow(d, found[0], row.next_task_id, row.next_scheduled)

        return await self._txn(txn)

    async def remove_hook(self, group: str, hook: str) -> None:
        def txn(conn: sqlite3.Connection) -> None:
            for table in ("hooks", "fires", "ticks"):
                conn.execute(
                    f"DELETE FROM {table} WHERE hook_group_id = ? AND hook_id = ?", (group, hook)
                )

        await self._txn(txn)

    async def set_token(self, group: str, hook: str, token: str) -> bool:
        def txn(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE hooks SET token = ? WHERE hook_group_id = ? AND hook_id = ?",
                (token, group, hook),
            )
            return cursor.rowcount == 1

        return await self._txn(txn)

    async def list_groups(self) -> list[str]:
        def txn(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT DISTINCT hook_group_id FROM hooks ORDER BY hook_group_id"
            ).fetchall()
            return [row[0] for row in rows]

        return await self._txn(txn, write=False)

    async def list_hooks(self, group: str) -> list[HookRow]:
        def txn(conn: sqlite3.Connection) -> list[HookRow]:
            rows = conn.execute(
                f"SELECT {_HOOK_COLUMNS} FROM hooks WHERE hook_group_id = ? ORDER BY hook_id",
                (group,),
            ).fetchall()
            return [_hook(row) for row in rows]

        return await self._txn(txn, write=False)

    async def hooks_with_bindings(self) -> list[HookRow]:
        def txn(conn: sqlite3.Connection) -> list[HookRow]:
            rows = conn.execute(f"SELECT {_HOOK_COLUMNS} FROM hooks").fetchall()
            return [h for h in map(_hook, rows) if h.definition.bindings]

        return await self._txn(txn, write=False)

    # -- fires --------------------------------------------------------------------------------

    async def record_fire(self, fire: FireRow) -> None:
        def txn(conn: sqlite3.Connection) -> None:
            _insert_fire(conn, fire)

        await self._txn(txn)

    async def list_fires(
        self, group: str, hook: str, before_seq: int | None, limit: int
    ) -> list[FireRow]:
        """Newest first; `limit + 1` rows tell whether a next page exists."""

        def txn(conn: sqlite3.Connection) -> list[FireRow]:
            rows = conn.execute(
                "SELECT seq, hook_group_id, hook_id, fired_by, task_id, fired_at, result, error"
                " FROM fires WHERE hook_group_id = ? AND hook_id = ? AND seq < ?"
                " ORDER BY seq DESC LIMIT ?",
                (group, hook, before_seq if before_seq is not None else 2**62, limit + 1),
            ).fetchall()
            return [FireRow(*row) for row in rows]

        return await self._txn(txn, write=False)

    # -- cron ticks -----------------------------------------------------------------------------

    async def due_ticks(self, now_ms: int) -> list[tuple[str, str, int, str]]:
        def txn(conn: sqlite3.Connection) -> list[tuple[str, str, int, str]]:
            rows = conn.execute(
                "SELECT hook_group_id, hook_id, next_scheduled, next_task_id FROM hooks"
                " WHERE next_scheduled IS NOT NULL AND next_scheduled <= ?"
                " ORDER BY next_scheduled",
                (now_ms,),
            ).fetchall()
            return [(r[0], r[1], r[2], r[3]) for r in rows]

        return await self._txn(txn, write=False)

    async def next_due(self) -> int | None:
        def txn(conn: sqlite3.Connection) -> int | None:
            row = conn.execute("SELECT min(next_scheduled) FROM hooks").fetchone()
            return None if row is None else row[0]

        return await self._txn(txn, write=False)

    async def claim_tick(
        self, group: str, hook: str, tick: int, owner: str, now_ms: int, lease_ms: int
    ) -> TickClaim | None:
        """Take the tick if the hook still waits for it and nobody holds or finished it."""

        def txn(conn: sqlite3.Connection) -> TickClaim | None:
            row = conn.execute(
                "SELECT next_task_id FROM hooks WHERE hook_group_id = ? AND hook_id = ?"
                " AND next_scheduled = ?",
                (group, hook, tick),
            ).fetchone()
            if row is None:
                return None
            cursor = conn.execute(
                "INSERT INTO ticks (hook_group_id, hook_id, tick, task_id, owner, lease_until,"
                " first_claimed) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (hook_group_id, hook_id, tick) DO UPDATE SET"
                " owner = excluded.owner, lease_until = excluded.lease_until"
                " WHERE ticks.done = 0 AND ticks.lease_until <= ?",
                (group, hook, tick, row[0], owner, now_ms + lease_ms, now_ms, now_ms),
            )
            if cursor.rowcount != 1:
                return None
            claimed = conn.execute(
                "SELECT task_id, first_claimed FROM ticks"
                " WHERE hook_group_id = ? AND hook_id = ? AND tick = ?",
                (group, hook, tick),
            ).fetchone()
            return TickClaim(group, hook, tick, claimed[0], claimed[1])

        return await self._txn(txn)

    async def release_tick(self, claim: TickClaim) -> None:
        """Give the tick back for a retry (the queue failed with 5xx or was unreachable)."""

        def txn(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE ticks SET lease_until = 0 WHERE hook_group_id = ? AND hook_id = ?"
                " AND tick = ?",
                (claim.hook_group_id, claim.hook_id, claim.tick),
            )

        await self._txn(txn)

    async def finish_tick(
        self,
        claim: TickClaim,
        fire: FireRow | None,
        next_task_id: str,
        next_after: Callable[[HookDefinition], int | None],
    ) -> None:
        """Record the fire, mark the tick done and advance the hook past it."""

        def txn(conn: sqlite3.Connection) -> None:
            if fire is not None:
                _insert_fire(conn, fire)
            conn.execute(
                "UPDATE ticks SET done = 1 WHERE hook_group_id = ? AND hook_id = ? AND tick = ?",
                (claim.hook_group_id, claim.hook_id, claim.tick),
            )
            row = conn.execute(
                "SELECT definition FROM hooks WHERE hook_group_id = ? AND hook_id = ?"
                " AND next_scheduled = ?",
                (claim.hook_group_id, claim.hook_id, claim.tick),
            ).fetchone()
            if row is None:
                return
            conn.execute(
                "UPDATE hooks SET next_task_id = ?, next_scheduled = ?"
                " WHERE hook_group_id = ? AND hook_id = ?",
                (
                    next_task_id,
                    next_after(_decode_hook(row[0])),
                    claim.hook_group_id,
                    claim.hook_id,
                ),
            )

        await self._txn(txn)

    # -- exchange messages ----------------------------------------------------------------------

    async def claim_message(self, group: str, hook: str, digest: str, now_ms: int) -> bool:
        """True for the first process to see this message for this hook (a day's memory)."""

        def txn(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM messages WHERE seen < ?", (now_ms - 86_400_000,))
            cursor = conn.execute(
                "INSERT INTO messages (hook_group_id, hook_id, digest, seen) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (group, hook, digest, now_ms),
            )
            return cursor.rowcount == 1

        return await self._txn(txn)


def _insert_fire(conn: sqlite3.Connection, fire: FireRow) -> None:
    conn.execute(
        "INSERT INTO fires (hook_group_id, hook_id, fired_by, task_id, fired_at, result, error)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            fire.hook_group_id,
            fire.hook_id,
            fire.fired_by,
            fire.task_id,
            fire.fired_at,
            fire.result,
            fire.error,
        ),
    )
