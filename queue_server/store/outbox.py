"""The AMQP outbox: messages waiting to be published to RabbitMQ (protocol.md, "AMQP").

Invariants:
- with the outbox on, every message a transaction publishes on the bus has one row here,
  inserted in that same transaction, so a committed change always has its messages;
- rows are published in `seq` order, which is commit order (one writer), and deleted only
  after the broker confirmed them: a crash in between republishes (at-least-once), never loses.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import msgspec

from clients.protocol.events import Message

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


def insert_messages(conn: sqlite3.Connection, messages: list[Message], now_ms: int) -> None:
    conn.executemany(
        "INSERT INTO amqp_outbox (exchange, routing_key, cc, body, created) VALUES (?,?,?,?,?)",
        [
            (m.exchange.value, m.routing_key, _encode(m.cc), _encode(m.body), now_ms)
            for m in messages
        ],
    )


def pending_rows(conn: sqlite3.Connection, limit: int) -> list[OutboxRow]:
    rows = conn.execute(
        "SELECT seq, exchange, routing_key, cc, body, created FROM amqp_outbox"
        " ORDER BY seq LIMIT ?",
        (limit,),
    ).fetchall()
    return [OutboxRow(r[0], r[1], r[2], _decode_cc(r[3]), bytes(r[4]), r[5]) for r in rows]


def delete_published(conn: sqlite3.Connection, up_to_seq: int) -> int:
    return conn.execute("DELETE FROM amqp_outbox WHERE seq <= ?", (up_to_seq,)).rowcount


def backlog(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM amqp_outbox").fetchone()[0])
