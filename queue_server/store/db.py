"""What a transaction sees of the database: the `Db` Protocol both stores implement.

Every transaction of the store is one coroutine function `txn(db, *args)` written once against
this Protocol (in the dialect of dialect.py). PostgreSQL awaits it on the event loop, one
round trip per statement. SQLite runs it whole in the database thread: its statements never
suspend, so the coroutine runs to its end in one `send` (`run_to_end`), and the transaction
costs one hop to that thread instead of one per statement (ARCHITECTURE.md, "Where the speed
comes from").
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from .dialect import Dialect

__all__ = ["Db", "Row", "Txn", "migrate", "run_to_end", "scalar"]

Row = tuple[Any, ...]
T = TypeVar("T")
# A transaction: `txn(db, *args)`, a coroutine function over the Db Protocol.
Txn = Callable[..., Coroutine[Any, Any, T]]


class Db(Protocol):
    dialect: Dialect

    async def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        """The first row of the result, or None."""
        ...

    async def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    async def run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Execute; how many rows were inserted, changed or deleted."""
        ...

    async def run_many(self, sql: str, rows: Iterable[Sequence[object]]) -> None: ...

    async def script(self, sql: str) -> None:
        """Several statements without parameters: a migration (already in this dialect)."""
        ...


async def scalar(db: Db, sql: str, params: Sequence[object] = ()) -> Any:
    """The first column of the first row (a count, a maximum), or None."""
    row = await db.one(sql, params)
    return None if row is None else row[0]


def run_to_end(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to its end, here and now (see the module doc)."""
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("a transaction suspended inside the database thread")


async def migrate(db: Db, migrations: Sequence[str]) -> int:
    """Apply the migrations not applied yet, in order, in the caller's transaction."""
    await db.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    current = await scalar(db, "SELECT max(version) FROM schema_version") or 0
    for version, script in enumerate(migrations, start=1):
        if version > current:
            await db.script(script)
            await db.run("INSERT INTO schema_version (version) VALUES (?)", (version,))
    return len(migrations)
