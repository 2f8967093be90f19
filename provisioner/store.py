"""The provisioner's SQLite store: pools, workers, pool errors and launch health.

One provisioner process owns a data directory. Invariants:
- a pool row holds its definition as given; a deleted pool keeps its row, with the provider
  `null-provider`, until none of its workers is live, then the row goes;
- a worker row holds only hashes of its secrets (the registration secret, static or one-time,
  and the current reregistration secret), never a secret itself; a one-time registration
  secret is cleared by the registration that uses it;
- a worker changes state only along core/workers.py TRANSITIONS: every change is an UPDATE
  guarded by the states it may come from;
- a launch config's health counts its failed starts in a row; a registration resets it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from clients.protocol.errors import conflict
from clients.protocol.worker_manager import WorkerState
from clients.serving.database import Database

from .core.launching import LaunchHealth
from .core.workers import LIVE, sources_of

__all__ = ["ErrorRow", "PoolRow", "PoolStore", "WorkerRow"]

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS pools (
    worker_pool_id TEXT PRIMARY KEY,
    provider_id TEXT NOT NULL,
    previous_provider_ids TEXT NOT NULL,
    description TEXT NOT NULL,
    owner TEXT NOT NULL,
    email_on_error INTEGER NOT NULL,
    config TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_modified INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS workers (
    worker_pool_id TEXT NOT NULL,
    worker_group TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    launch_config_id TEXT,
    state TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    last_modified INTEGER NOT NULL,
    last_checked INTEGER NOT NULL,
    registered INTEGER,
    credentials_expire INTEGER,
    secret_hash TEXT,
    one_time INTEGER NOT NULL,
    reregister_hash TEXT,
    provider_data TEXT NOT NULL,
    terminate INTEGER NOT NULL DEFAULT 0,
    terminate_reason TEXT NOT NULL DEFAULT 'none',
    PRIMARY KEY (worker_pool_id, worker_group, worker_id)
);
CREATE INDEX IF NOT EXISTS workers_live ON workers (worker_pool_id, state);
CREATE TABLE IF NOT EXISTS pool_errors (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    error_id TEXT NOT NULL UNIQUE,
    worker_pool_id TEXT NOT NULL,
    reported INTEGER NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    extra TEXT NOT NULL,
    launch_config_id TEXT
);
CREATE INDEX IF NOT EXISTS pool_errors_by_pool ON pool_errors (worker_pool_id, seq);
CREATE TABLE IF NOT EXISTS launch_health (
    worker_pool_id TEXT NOT NULL,
    launch_config_id TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure INTEGER NOT NULL,
    PRIMARY KEY (worker_pool_id, launch_config_id)
);
"""

_encode = msgspec.json.Encoder().encode


def _json(value: Any) -> str:
    return _encode(value).decode()


@dataclass(frozen=True)
class PoolRow:
    worker_pool_id: str
    provider_id: str
    description: str
    owner: str
    email_on_error: bool
    config: dict[str, Any]
    created_ms: int
    last_modified_ms: int
    previous_provider_ids: tuple[str, ...] = ()

    def same_definition(self, other: PoolRow) -> bool:
        fields = ("provider_id", "description", "owner", "email_on_error", "config")
        return all(getattr(self, name) == getattr(other, name) for name in fields)


@dataclass(frozen=True)
class WorkerRow:
    worker_pool_id: str
    worker_group: str
    worker_id: str
    provider_id: str
    launch_config_id: str | None
    state: WorkerState
    capacity: int
    created_ms: int
    expires_ms: int
    last_modified_ms: int
    last_checked_ms: int
    secret_hash: str | None  # the registration secret's hash (static, or one-time)
    one_time: bool
    registered_ms: int | None = None
    credentials_expire_ms: int | None = None
    reregister_hash: str | None = None
    provider_data: dict[str, Any] = field(default_factory=dict)
    terminate: bool = False
    terminate_reason: str = "none"

    @property
    def key(self) -> tuple[str, str, str]:
        return self.worker_pool_id, self.worker_group, self.worker_id


@dataclass(frozen=True)
class ErrorRow:
    error_id: str
    worker_pool_id: str
    reported_ms: int
    kind: str
    title: str
    description: str
    extra: dict[str, Any]
    launch_config_id: str | None


_POOL_COLUMNS = (
    "worker_pool_id, provider_id, previous_provider_ids, description, owner, email_on_error,"
    " config, created, last_modified"
)
_WORKER_COLUMNS = (
    "worker_pool_id, worker_group, worker_id, provider_id, launch_config_id, state, capacity,"
    " created, expires, last_modified, last_checked, secret_hash, one_time, registered,"
    " credentials_expire, reregister_hash, provider_data, terminate, terminate_reason"
)
_ERROR_COLUMNS = (
    "error_id, worker_pool_id, reported, kind, title, description, extra, launch_config_id"
)


def _pool(row: tuple[Any, ...]) -> PoolRow:
    return PoolRow(
        worker_pool_id=row[0],
        provider_id=row[1],
        previous_provider_ids=tuple(msgspec.json.decode(row[2])),
        description=row[3],
        owner=row[4],
        email_on_error=bool(row[5]),
        config=msgspec.json.decode(row[6]),
        created_ms=row[7],
        last_modified_ms=row[8],
    )


def _pool_values(pool: PoolRow) -> tuple[Any, ...]:
    return (
        pool.worker_pool_id,
        pool.provider_id,
        _json(list(pool.previous_provider_ids)),
        pool.description,
        pool.owner,
        int(pool.email_on_error),
        _json(pool.config),
        pool.created_ms,
        pool.last_modified_ms,
    )


def _worker(row: tuple[Any, ...]) -> WorkerRow:
    values = list(row)
    values[5] = WorkerState(values[5])
    values[12] = bool(values[12])
    values[16] = msgspec.json.decode(values[16])
    values[17] = bool(values[17])
    names = [name.strip() for name in _WORKER_COLUMNS.split(",")]
    renamed = {
        "created": "created_ms",
        "expires": "expires_ms",
        "last_modified": "last_modified_ms",
    }
    renamed |= {"last_checked": "last_checked_ms", "registered": "registered_ms"}
    renamed |= {"credentials_expire": "credentials_expire_ms"}
    return WorkerRow(**{renamed.get(n, n): v for n, v in zip(names, values, strict=True)})


def _worker_values(w: WorkerRow) -> tuple[Any, ...]:
    return (
        *w.key,
        w.provider_id,
        w.launch_config_id,
        w.state.value,
        w.capacity,
        w.created_ms,
        w.expires_ms,
        w.last_modified_ms,
        w.last_checked_ms,
        w.secret_hash,
        int(w.one_time),
        w.registered_ms,
        w.credentials_expire_ms,
        w.reregister_hash,
        _json(w.provider_data),
        int(w.terminate),
        w.terminate_reason,
    )


def _error(row: tuple[Any, ...]) -> ErrorRow:
    return ErrorRow(
        row[0], row[1], row[2], row[3], row[4], row[5], msgspec.json.decode(row[6]), row[7]
    )


class PoolStore(Database):
    """Every method is one transaction, run in a thread, one at a time per process."""

    @classmethod
    async def open(cls, path: Path) -> PoolStore:
        return await cls.connect(path, SCHEMA)

    # -- pools --------------------------------------------------------------------------------

    async def get_pool(self, pool_id: str) -> PoolRow | None:
        def txn(conn: sqlite3.Connection) -> PoolRow | None:
            return _get_pool(conn, pool_id)

        return await self._txn(txn, write=False)

    async def list_pools(self, offset: int = 0, limit: int = 1000) -> list[PoolRow]:
        def txn(conn: sqlite3.Connection) -> list[PoolRow]:
            rows = conn.execute(
                f"SELECT {_POOL_COLUMNS} FROM pools ORDER BY worker_pool_id LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
            return [_pool(row) for row in rows]

        return await self._txn(txn, write=False)

    async def create_pool(self, pool: PoolRow) -> PoolRow:
        """Insert; an identical existing definition answers as created, another is 409."""

        def txn(conn: sqlite3.Connection) -> PoolRow:
            found = _get_pool(conn, pool.worker_pool_id)
            if found is not None:
                if not found.same_definition(pool):
                    raise conflict(f"Worker pool {pool.worker_pool_id} already exists")
                return found
            conn.execute(
                f"INSERT INTO pools ({_POOL_COLUMNS}) VALUES ({_marks(9)})", _pool_values(pool)
            )
            return pool

        return await self._txn(txn)

    async def update_pool(self, pool: PoolRow) -> PoolRow | None:
        """Replace the definition (keeping `created`); None for an unknown pool."""

        def txn(conn: sqlite3.Connection) -> PoolRow | None:
            found = _get_pool(conn, pool.worker_pool_id)
            if found is None:
                return None
            previous = list(found.previous_provider_ids)
            if found.provider_id != pool.provider_id and found.provider_id not in previous:
                previous.append(found.provider_id)
            updated = replace(
                pool, created_ms=found.created_ms, previous_provider_ids=tuple(previous)
            )
            conn.execute("DELETE FROM pools WHERE worker_pool_id = ?", (pool.worker_pool_id,))
            conn.execute(
                f"INSERT INTO pools ({_POOL_COLUMNS}) VALUES ({_marks(9)})", _pool_values(updated)
            )
            return updated

        return await self._txn(txn)

    async def remove_pool_if_empty(self, pool_id: str, null_provider: str) -> bool:
        """Drop a deleted pool's row once none of its workers is live."""

        def txn(conn: sqlite3.Connection) -> bool:
            live = conn.execute(
                f"SELECT count(*) FROM workers WHERE worker_pool_id = ? AND state IN ({_marks(3)})",
                (pool_id, *LIVE),
            ).fetchone()[0]
            if live:
                return False
            done = conn.execute(
                "DELETE FROM pools WHERE worker_pool_id = ? AND provider_id = ?",
                (pool_id, null_provider),
            )
            return done.rowcount > 0

        return await self._txn(txn)

    async def pool_counts(self, pool_id: str) -> dict[WorkerState, tuple[int, int]]:
        """Per state: (workers, capacity)."""

        def txn(conn: sqlite3.Connection) -> dict[WorkerState, tuple[int, int]]:
            rows = conn.execute(
                "SELECT state, count(*), sum(capacity) FROM workers WHERE worker_pool_id = ?"
                " GROUP BY state",
                (pool_id,),
            ).fetchall()
            return {WorkerState(state): (count, total or 0) for state, count, total in rows}

        return await self._txn(txn, write=False)

    # -- workers ------------------------------------------------------------------------------

    async def insert_worker(self, worker: WorkerRow) -> WorkerRow:
        """Insert a new worker; 409 if one with this id exists."""

        def txn(conn: sqlite3.Connection) -> WorkerRow:
            if _get_worker(conn, worker.key) is not None:
                raise conflict("Worker already exists")
            conn.execute(
                f"INSERT INTO workers ({_WORKER_COLUMNS}) VALUES ({_marks(19)})",
                _worker_values(worker),
            )
            return worker

        return await self._txn(txn)

    async def get_worker(self, key: tuple[str, str, str]) -> WorkerRow | None:
        return await self._txn(lambda conn: _get_worker(conn, key), write=False)

    async def list_workers(
        self,
        pool_id: str,
        states: tuple[WorkerState, ...] = tuple(WorkerState),
        launch_config_id: str | None = None,
        offset: int = 0,
        limit: int = 1000,
    ) -> list[WorkerRow]:
        def txn(conn: sqlite3.Connection) -> list[WorkerRow]:
            sql = f"SELECT {_WORKER_COLUMNS} FROM workers WHERE worker_pool_id = ?"
            sql += f" AND state IN ({_marks(len(states))})"
            args: list[Any] = [pool_id, *states]
            if launch_config_id is not None:
                sql += " AND launch_config_id = ?"
                args.append(launch_config_id)
            sql += " ORDER BY worker_group, worker_id LIMIT ? OFFSET ?"
            return [_worker(row) for row in conn.execute(sql, (*args, limit, offset)).fetchall()]

        return await self._txn(txn, write=False)

    async def save_worker(
        self, worker: WorkerRow, guard: Callable[[WorkerRow], bool], registered: bool = False
    ) -> bool:
        """Write the worker's row if `guard` accepts the row as it is now. A registration
        (`registered`) also ends its launch config's run of failed starts."""

        def txn(conn: sqlite3.Connection) -> bool:
            found = _get_worker(conn, worker.key)
            if found is None or not guard(found):
                return False
            if registered and worker.launch_config_id is not None:
                conn.execute(
                    "UPDATE launch_health SET failures = 0 WHERE worker_pool_id = ?"
                    " AND launch_config_id = ?",
                    (worker.worker_pool_id, worker.launch_config_id),
                )
            conn.execute(
                "DELETE FROM workers WHERE worker_pool_id = ? AND worker_group = ?"
                " AND worker_id = ?",
                worker.key,
            )
            conn.execute(
                f"INSERT INTO workers ({_WORKER_COLUMNS}) VALUES ({_marks(19)})",
                _worker_values(worker),
            )
            return True

        return await self._txn(txn)

    async def move_worker(
        self, key: tuple[str, str, str], target: WorkerState, now_ms: int
    ) -> WorkerRow | None:
        """Move the worker to `target` along TRANSITIONS; None if it may not (or is unknown)."""

        def txn(conn: sqlite3.Connection) -> WorkerRow | None:
            sources = sources_of(target)
            done = conn.execute(
                "UPDATE workers SET state = ?, last_modified = ? WHERE worker_pool_id = ?"
                f" AND worker_group = ? AND worker_id = ? AND state IN ({_marks(len(sources))})",
                (target.value, now_ms, *key, *sources),
            )
            return _get_worker(conn, key) if done.rowcount else None

        return await self._txn(txn)

    async def set_terminations(self, pool_id: str, chosen: dict[tuple[str, str], str]) -> None:
        """Tell the chosen running workers to terminate (with a reason), and no other one."""

        def txn(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE workers SET terminate = 0, terminate_reason = 'none'"
                " WHERE worker_pool_id = ? AND state = 'running'",
                (pool_id,),
            )
            for (group, worker_id), reason in chosen.items():
                conn.execute(
                    "UPDATE workers SET terminate = 1, terminate_reason = ? WHERE"
                    " worker_pool_id = ? AND worker_group = ? AND worker_id = ?",
                    (reason, pool_id, group, worker_id),
                )

        await self._txn(txn)

    async def delete_expired_workers(self, now_ms: int) -> int:
        def txn(conn: sqlite3.Connection) -> int:
            done = conn.execute(
                "DELETE FROM workers WHERE expires < ? AND state = 'stopped'", (now_ms,)
            )
            return done.rowcount

        return await self._txn(txn)

    # -- errors and launch health --------------------------------------------------------------

    async def add_error(self, error: ErrorRow, failed_start: bool, keep_ms: int) -> None:
        """Record an error; a failed start also counts against its launch config's health."""

        def txn(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO pool_errors ({_ERROR_COLUMNS}) VALUES ({_marks(8)})",
                (
                    error.error_id,
                    error.worker_pool_id,
                    error.reported_ms,
                    error.kind,
                    error.title,
                    error.description,
                    _json(error.extra),
                    error.launch_config_id,
                ),
            )
            conn.execute(
                "DELETE FROM pool_errors WHERE reported < ?", (error.reported_ms - keep_ms,)
            )
            if failed_start and error.launch_config_id is not None:
                conn.execute(
                    "INSERT INTO launch_health VALUES (?, ?, 1, ?) ON CONFLICT DO UPDATE SET"
                    " failures = failures + 1, last_failure = excluded.last_failure",
                    (error.worker_pool_id, error.launch_config_id, error.reported_ms),
                )

        await self._txn(txn)

    async def list_errors(self, pool_id: str, offset: int = 0, limit: int = 1000) -> list[ErrorRow]:
        def txn(conn: sqlite3.Connection) -> list[ErrorRow]:
            rows = conn.execute(
                f"SELECT {_ERROR_COLUMNS} FROM pool_errors WHERE worker_pool_id = ?"
                " ORDER BY seq DESC LIMIT ? OFFSET ?",
                (pool_id, limit, offset),
            ).fetchall()
            return [_error(row) for row in rows]

        return await self._txn(txn, write=False)

    async def launch_health(self, pool_id: str) -> dict[str, LaunchHealth]:
        def txn(conn: sqlite3.Connection) -> dict[str, LaunchHealth]:
            rows = conn.execute(
                "SELECT launch_config_id, failures, last_failure FROM launch_health"
                " WHERE worker_pool_id = ?",
                (pool_id,),
            ).fetchall()
            return {row[0]: LaunchHealth(row[1], row[2]) for row in rows}

        return await self._txn(txn, write=False)


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _get_pool(conn: sqlite3.Connection, pool_id: str) -> PoolRow | None:
    row = conn.execute(
        f"SELECT {_POOL_COLUMNS} FROM pools WHERE worker_pool_id = ?", (pool_id,)
    ).fetchone()
    return None if row is None else _pool(row)


def _get_worker(conn: sqlite3.Connection, key: tuple[str, str, str]) -> WorkerRow | None:
    row = conn.execute(
        f"SELECT {_WORKER_COLUMNS} FROM workers WHERE worker_pool_id = ? AND worker_group = ?"
        " AND worker_id = ?",
        key,
    ).fetchone()
    return None if row is None else _worker(row)
