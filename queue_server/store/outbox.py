"""The AMQP outbox: messages waiting to be published to RabbitMQ (protocol.md, "AMQP").

Invariants:
- with the outbox on, every message a transaction publishes on the bus has one row here,
  inserted in that same transaction, so a committed change always has its messages;
- rows are published in `seq` order, which is commit order (one writer on SQLite; on
  PostgreSQL the inserts take the dialect's commit-order lock), and deleted only after the
  broker confirmed them: a crash in between republishes (at-least-once), never loses;
- on PostgreSQL one replica at a time drains the outbox (PostgresStore.outbox_rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from clients.protocol.events import Message

from .db import Db, scalar

__all__ = ["OUTBOX_SCHEMA", "OutboxRow", "delete_published", "insert_messages", "pending_rows"]

OUTBOX_SCHEMA = """
    CREATE TABLE amqp_outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        exchange TEXT NOT NULL,
        routing_key TEXT NOT NULL,
        cc BLOB NOT NULL,
        body BLOB NOT NULL,
        created INTEGER NOT NULL
    )
"""

_encode = msgspec.json.Encoder().encode
_decode_cc = msgspec.json.Decoder(list[str]).decode


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    exchange: str  # the short name, e.g. `task-completed`; the publisher adds its prefix
    routing_key: str
    cc: list[str]
    body: bytes  # the JSON body, exactly as it will be published
    created: int


async def insert_messages(db: Db, messages: list[Message], now_ms: int) -> None:
    if db.dialect.commit_order_lock:
        await db.run(db.dialect.commit_order_lock)
    await db.run_many(
        "INSERT INTO amqp_outbox (exchange, routing_key, cc, body, created) VALUES (?,?,?,?,?)",
        [
            (m.exchange.value, m.routing_key, _encode(m.cc), _encode(m.body), now_ms)
            for m in messages
        ],
    )


async def pending_rows(db: Db, limit: int) -> list[OutboxRow]:
    rows = await db.all(
        "SELECT seq, exchange, routing_key, cc, body, created FROM amqp_outbox"
        " ORDER BY seq LIMIT ?",
        (limit,),
    )
    return [OutboxRow(r[0], r[1], r[2], _decode_cc(r[3]), bytes(r[4]), r[5]) for r in rows]


async def delete_published(db: Db, up_to_seq: int) -> int:
    return await db.run("DELETE FROM amqp_outbox WHERE seq <= ?", (up_to_seq,))


async def backlog(db: Db) -> int:
    return int(await scalar(db, "SELECT count(*) FROM amqp_outbox"))
