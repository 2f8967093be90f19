"""Messages carried between replicas in PostgreSQL notifications (protocol.md, "Scale-out").

Each replica publishes a transaction's messages on its own bus after the commit, and sends
them in the same transaction as NOTIFY payloads, which PostgreSQL delivers to every listening
replica when (and only if) the transaction commits, in commit order. A payload names the
replica it came from, so that a replica ignores its own. PostgreSQL limits a payload to 8000
bytes: messages are packed several to a payload up to a budget, and a message too large
alone travels compressed. Pure: no I/O.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator

import msgspec

from clients.protocol.events import (
    ArtifactCreated,
    Body,
    Exchange,
    Message,
    TaskGroupChanged,
    TaskGroupPriorityChanged,
    TaskMessage,
    TaskPriorityChanged,
)

__all__ = ["PAYLOAD_BUDGET", "decode_payload", "encode_payloads"]

PAYLOAD_BUDGET = 7800  # bytes; PostgreSQL refuses payloads of 8000 and more

_BODY_TYPES: dict[Exchange, type[Body]] = {
    Exchange.artifact_created: ArtifactCreated,
    Exchange.task_group_resolved: TaskGroupChanged,
    Exchange.task_group_sealed: TaskGroupChanged,
    Exchange.task_priority_changed: TaskPriorityChanged,
    Exchange.task_group_priority_changed: TaskGroupPriorityChanged,
}


class _Wire(msgspec.Struct, array_like=True):
    exchange: Exchange
    routing_key: str
    cc: list[str]
    body: msgspec.Raw


class _Payload(msgspec.Struct, array_like=True):
    origin: str
    messages: list[_Wire] = []
    packed: str = ""  # base64 of zlib of one _Wire, for a message too large alone


_encode = msgspec.json.Encoder().encode
_decode_payload = msgspec.json.Decoder(_Payload).decode
_decode_wire = msgspec.json.Decoder(_Wire).decode


def _wire(message: Message) -> _Wire:
    body = msgspec.Raw(_encode(message.body))
    return _Wire(message.exchange, message.routing_key, message.cc, body)


def encode_payloads(origin: str, messages: list[Message]) -> Iterator[str]:
    """Notification payloads carrying `messages`, in order, each within PAYLOAD_BUDGET."""
    batch: list[_Wire] = []
    size = len(origin) + 16
    for message in messages:
        wire = _wire(message)
        length = len(_encode(wire)) + 1
        if size + length > PAYLOAD_BUDGET and batch:
            yield _encode(_Payload(origin, batch)).decode()
            batch, size = [], len(origin) + 16
        if size + length > PAYLOAD_BUDGET:
            packed = base64.b64encode(zlib.compress(_encode(wire), 6)).decode()
            # A body is bounded (a status has at most 50 runs) and compresses well below the
            # budget; one that would not fit is left to this replica's own bus alone.
            if len(packed) + size <= PAYLOAD_BUDGET:
                yield _encode(_Payload(origin, packed=packed)).decode()
            continue
        batch.append(wire)
        size += length
    if batch:
        yield _encode(_Payload(origin, batch)).decode()


def _message(wire: _Wire) -> Message:
    body_type = _BODY_TYPES.get(wire.exchange, TaskMessage)
    body = msgspec.json.decode(wire.body, type=body_type)
    return Message(exchange=wire.exchange, routing_key=wire.routing_key, cc=wire.cc, body=body)


def decode_payload(payload: str) -> tuple[str, list[Message]]:
    """(origin, messages) of one payload; msgspec.ValidationError or DecodeError if bad."""
    decoded = _decode_payload(payload)
    wires = decoded.messages
    if decoded.packed:
        wires = [_decode_wire(zlib.decompress(base64.b64decode(decoded.packed)))]
    return decoded.origin, [_message(wire) for wire in wires]
