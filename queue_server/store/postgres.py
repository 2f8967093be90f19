"""The PostgreSQL store: a connection pool, so that several queue replicas share one database
(ARCHITECTURE.md, decision 3; protocol.md, "Scale-out").

- Transactions are the same as SQLite's (db.py), awaited on the loop in READ COMMITTED, with
  row locks where SQLite's single writer was the lock (dialect.py): a task's row is locked
  before it changes; claims and the resolvers take rows with FOR UPDATE SKIP LOCKED, so that
  claimers and resolvers in every replica never wait for one another and take each row once.
- A transaction that loses a race (deadlock, serialization failure, a row inserted by another
  at the same time) is run again from the start, up to RETRIES times.
- Every write's messages go out in its own transaction as NOTIFY payloads (notifications.py);
  each replica listens on one connection and publishes what other replicas committed on its
  own bus, which wakes its claimWork waiters and feeds its event subscribers. When the
  listening connection is lost, every waiter is woken (work may have arrived unheard) and the
  connection is made again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import asyncpg
import msgspec

from clients.protocol.errors import input_error
from clients.protocol.events import Message

from ..bus import Bus
from .db import Row, Txn, migrate, scalar
from .dialect import POSTGRES, postgres_ddl, postgres_sql
from .notifications import decode_payload, encode_payloads
from .outbox import OutboxRow
from .queue_txns import Claimed
from .queue_txns import claim_work as claim_work_txn
from .schema import MIGRATIONS
from .sql import SqlStore, _with_outbox

__all__ = ["PostgresStore"]

log = logging.getLogger("infrax.queue.postgres")
T = TypeVar("T")

RETRIES = 8
RETRYABLE = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.UniqueViolationError,
)
# Text PostgreSQL cannot store (a NUL character): the caller's input, so a 400.
UNSTORABLE_TEXT = (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)
# claimWork found pending runs it could not take because other transactions held them: wake
# the waiters of that task queue again after this long, unless something wakes them sooner.
LOCKED_RETRY_S = 0.05
RECONNECT_S = 1.0


class PostgresDb:
    """The Db Protocol on one asyncpg connection inside a transaction."""

    dialect = POSTGRES

    def __init__(self, conn: asyncpg.Connection, store: PostgresStore) -> None:
        self._conn = conn
        self._store = store

    async def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        self._store.statements += 1
        row = await self._conn.fetchrow(postgres_sql(sql), *params)
        return None if row is None else tuple(row)

    async def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        self._store.statements += 1
        return [tuple(row) for row in await self._conn.fetch(postgres_sql(sql), *params)]

    async def run(self, sql: str, params: Sequence[object] = ()) -> int:
        self._store.statements += 1
        status: str = await self._conn.execute(postgres_sql(sql), *params)
        count = status.rpartition(" ")[2]
        return int(count) if count.isdigit() else 0

    async def run_many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        rows = list(rows)
        self._store.statements += len(rows)
        if rows:
            await self._conn.executemany(postgres_sql(sql), rows)

    async def script(self, sql: str) -> None:
        await self._conn.execute(postgres_ddl(sql))


class PostgresStore(SqlStore):
    def __init__(
        self, pool: asyncpg.Pool, url: str, channel: str, bus: Bus, *, outbox: bool = False
    ) -> None:
        super().__init__(bus, outbox=outbox)
        self._pool = pool
        self._url = url
        self._channel = channel
        self._origin = secrets.token_hex(8)
        self._listener: asyncpg.Connection | None = None
        self._listening: asyncio.Task[None] | None = None
        self._rewakes: dict[str, asyncio.TimerHandle] = {}
        self._publishing = False  # this replica drains the AMQP outbox
        self._writing: set[asyncio.Future[Any]] = set()
        self.statements = 0

    @classmethod
    async def open(
        cls, url: str, bus: Bus, pool_size: int = 10, *, outbox: bool = False
    ) -> PostgresStore:
        """Connect, migrate (one replica at a time) and start listening; with ``outbox``,
        every transaction also writes its messages to the AMQP outbox."""
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=pool_size, statement_cache_size=1024
        )
        try:
            async with pool.acquire() as conn:
                schema = await conn.fetchval("SELECT current_schema()")
            if schema is None:
                raise RuntimeError(f"no schema to use at {url}: check its search_path")
            # Channels are per database: name this schema's, so that several deployments
            # (or test runs) sharing a database never hear one another.
            store = cls(pool, url, f"infrax:{schema}"[:63], bus, outbox=outbox)
            await store._migrate()
            await store._listen()
        except BaseException:
            await pool.close()
            raise
        return store

    async def _migrate(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
            await migrate(PostgresDb(conn, self), MIGRATIONS)

    async def _close(self) -> None:
        await asyncio.gather(*self._writing, return_exceptions=True)
        for handle in self._rewakes.values():
            handle.cancel()
        if self._listening is not None:
            self._listening.cancel()
            await asyncio.gather(self._listening, return_exceptions=True)
        if self._listener is not None:
            self._listener.remove_termination_listener(self._lost)
            await self._listener.close()
        await self._pool.close()

    # -- transactions -----------------------------------------------------------------------

    async def _read(self, fn: Txn[T], *args: Any) -> T:
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await fn(PostgresDb(conn, self), *args)

    async def _write(self, fn: Txn[tuple[T, list[Message]]], *args: Any) -> T:
        """Commit fn(db, *args) and publish its messages, in a task of its own that goes on
        when the caller is cancelled (`close` waits for it)."""
        writing = asyncio.ensure_future(self._commit_and_publish(fn, args))
        self._writing.add(writing)
        writing.add_done_callback(self._writing.discard)
        return await asyncio.shield(writing)

    async def _commit_and_publish(
        self, fn: Txn[tuple[T, list[Message]]], args: tuple[Any, ...]
    ) -> T:
        if self._outbox:
            fn, args = _with_outbox, (fn, *args)
        result, messages = await self._commit(fn, args)
        self._bus.publish(messages)
        return result

    async def _commit(
        self, fn: Txn[tuple[T, list[Message]]], args: tuple[Any, ...]
    ) -> tuple[T, list[Message]]:
        for attempt in range(1, RETRIES + 1):
            try:
                return await self._attempt(fn, args)
            except RETRYABLE:
                if attempt == RETRIES:
                    raise
                await asyncio.sleep(random.uniform(0, 0.005 * attempt))
            except UNSTORABLE_TEXT as error:
                raise input_error(
                    f"the request holds text that cannot be stored: {error}"
                ) from None
        raise AssertionError("unreachable")

    async def _attempt(
        self, fn: Txn[tuple[T, list[Message]]], args: tuple[Any, ...]
    ) -> tuple[T, list[Message]]:
        async with self._pool.acquire() as conn, conn.transaction():
            result, messages = await fn(PostgresDb(conn, self), *args)
            for payload in encode_payloads(self._origin, messages):
                await conn.execute("SELECT pg_notify($1, $2)", self._channel, payload)
            return result, messages

    # -- claims: wake again when runs were skipped as locked ----------------------------------

    async def claim_work(
        self,
        task_queue_id: str,
        worker_group: str,
        worker_id: str,
        count: int,
        now_ms: int,
        taken_until_ms: int,
    ) -> list[Claimed]:
        claimed, skipped = await self._write(
            _claim_and_look, task_queue_id, worker_group, worker_id, count, now_ms, taken_until_ms
        )
        if skipped:
            self._wake_again(task_queue_id)
        return claimed

    def _wake_again(self, task_queue_id: str) -> None:
        """Pending runs were held by other transactions: have the waiters look again soon."""
        if task_queue_id in self._rewakes:
            return

        def wake() -> None:
            del self._rewakes[task_queue_id]
            self._bus.wake(task_queue_id)

        loop = asyncio.get_running_loop()
        self._rewakes[task_queue_id] = loop.call_later(LOCKED_RETRY_S, wake)

    # -- notifications from the other replicas -----------------------------------------------

    async def _listen(self) -> None:
        self._listener = await asyncpg.connect(self._url)
        await self._listener.add_listener(self._channel, self._heard)
        self._listener.add_termination_listener(self._lost)

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            origin, messages = decode_payload(payload)
        except (msgspec.DecodeError, ValueError):
            log.exception("undecodable notification", extra={"event": "notification_bad"})
            return
        if origin != self._origin:
            self._bus.publish(messages)

    def _lost(self, _conn: object) -> None:
        log.warning("lost the notification connection", extra={"event": "listener_lost"})
        self._listener = None
        self._publishing = False
        if self._listening is None or self._listening.done():
            self._listening = asyncio.get_running_loop().create_task(self._listen_again())

    async def _listen_again(self) -> None:
        while True:
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await asyncio.sleep(RECONNECT_S)
                continue
            # Whatever was committed while nobody listened went unheard: look again.
            self._bus.wake_all()
            log.info("listening again", extra={"event": "listener_back"})
            return

    # -- the AMQP outbox: one replica drains it --------------------------------------------------

    async def outbox_rows(self, limit: int) -> list[OutboxRow]:
        """The rows to publish, to the one replica holding the publisher's lock (none to the
        others): a session lock on the listening connection, so it passes to another
        replica when this one dies or loses that connection."""
        if not await self._lead_publishing():
            return []
        return await super().outbox_rows(limit)

    async def _lead_publishing(self) -> bool:
        listener = self._listener
        if listener is None:
            return False
        if not self._publishing:
            self._publishing = bool(
                await listener.fetchval(
                    "SELECT pg_try_advisory_lock(hashtext(current_schema() || ':publisher'))"
                )
            )
        return self._publishing

    async def healthy(self) -> bool:
        async def probe(db: PostgresDb) -> bool:
            return bool(await scalar(db, "SELECT 1") == 1)

        return self._listener is not None and await self._read(probe)


async def _claim_and_look(
    db: PostgresDb,
    task_queue_id: str,
    worker_group: str,
    worker_id: str,
    count: int,
    now_ms: int,
    taken_until_ms: int,
) -> tuple[tuple[list[Claimed], bool], list[Message]]:
    """Claim, and tell whether pending runs were left that other transactions held."""
    claimed, messages = await claim_work_txn(
        db, task_queue_id, worker_group, worker_id, count, now_ms, taken_until_ms
    )
    skipped = False
    if len(claimed) < count:
        skipped = bool(
            await scalar(
                db,
                "SELECT EXISTS (SELECT 1 FROM pending WHERE task_queue_id = ?)",
                (task_queue_id,),
            )
        )
    return (claimed, skipped), messages
