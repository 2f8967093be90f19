"""The event stream's frames and scopes (protocol.md, "Event stream").

A client opens a websocket at `GET /api/queue/v1/events`, sends `subscribe` frames naming
exchanges and routing-key patterns, and receives one `message` frame per matching message.
All frames are JSON text with a `type` field. Pure.
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import UNSET, Meta, Struct, UnsetType

from .events import (
    EXCHANGE_PREFIX,
    ArtifactCreated,
    Body,
    Exchange,
    Message,
    TaskGroupChanged,
    TaskGroupPriorityChanged,
    TaskMessage,
    TaskPriorityChanged,
)

__all__ = [
    "BODY_OF",
    "CLOSE_GOING_AWAY",
    "CLOSE_TOO_SLOW",
    "GROUP_EXCHANGES",
    "MAX_BINDINGS",
    "MAX_BINDINGS_PER_FRAME",
    "Binding",
    "ClientFrame",
    "Delivery",
    "ServerFrame",
    "StreamError",
    "Subscribe",
    "Subscribed",
    "Unsubscribe",
    "Unsubscribed",
    "read_scope",
    "wildcard_read_scope",
]

MAX_BINDINGS = 10_000  # bindings one connection may hold
MAX_BINDINGS_PER_FRAME = 1_000
CLOSE_TOO_SLOW = 4001  # the subscriber's buffer overflowed; it missed messages
CLOSE_GOING_AWAY = 1001  # the server is shutting down

GROUP_EXCHANGES = frozenset(
    {Exchange.task_group_resolved, Exchange.task_group_sealed, Exchange.task_group_priority_changed}
)

FrameId = Annotated[str, Meta(max_length=100)]


class Binding(Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """An exchange (full name, `exchange/taskcluster-queue/v1/...`) and a routing-key pattern."""

    exchange: Annotated[str, Meta(max_length=200)]
    routing_key_pattern: Annotated[str, Meta(max_length=255)] = "#"

    @classmethod
    def of(cls, exchange: Exchange | str, pattern: str = "#") -> Binding:
        name = exchange if exchange.startswith(EXCHANGE_PREFIX) else EXCHANGE_PREFIX + exchange
        return cls(exchange=name, routing_key_pattern=pattern)

    @classmethod
    def for_task(cls, exchange: Exchange | str, task_id: str) -> Binding:
        """One task's messages on a task exchange."""
        return cls.of(exchange, f"primary.{task_id}.#")

    @classmethod
    def for_task_group(cls, exchange: Exchange | str, task_group_id: str) -> Binding:
        """A group's messages: its tasks' on a task exchange, its own on a group exchange."""
        if Exchange(_short(exchange)) in GROUP_EXCHANGES:
            return cls.of(exchange, f"primary.{task_group_id}.#")
        return cls.of(exchange, f"primary.*.*.*.*.*.*.*.{task_group_id}.#")

    @classmethod
    def for_task_queue(cls, exchange: Exchange | str, task_queue_id: str) -> Binding:
        """The messages of the tasks of one task queue (`provisionerId/workerType`)."""
        provisioner_id, _, worker_type = task_queue_id.partition("/")
        return cls.of(exchange, f"primary.*.*.*.*.{provisioner_id}.{worker_type}.#")


def _short(exchange: str) -> str:
    return exchange.removeprefix(EXCHANGE_PREFIX)


Bindings = Annotated[list[Binding], Meta(max_length=MAX_BINDINGS_PER_FRAME)]


class Subscribe(
    Struct, kw_only=True, tag="subscribe", tag_field="type", forbid_unknown_fields=True
):
    """Client → server: add bindings; answered by `subscribed` (or `error`) with the same id."""

    id: FrameId | UnsetType = UNSET
    bindings: Bindings


class Unsubscribe(
    Struct, kw_only=True, tag="unsubscribe", tag_field="type", forbid_unknown_fields=True
):
    """Client → server: remove bindings; answered by `unsubscribed` with the same id."""

    id: FrameId | UnsetType = UNSET
    bindings: Bindings


ClientFrame = Subscribe | Unsubscribe


class Subscribed(Struct, kw_only=True, tag="subscribed", tag_field="type"):
    """The bindings are in place: every matching message published from now on is sent.

    ``filtered`` names the exchanges on which the caller lacks the wildcard read scope, so
    messages it may not read are left out (see ``read_scope``).
    """

    id: str | UnsetType = UNSET
    bindings: list[Binding]
    filtered: list[str] = []


class Unsubscribed(Struct, kw_only=True, tag="unsubscribed", tag_field="type"):
    id: str | UnsetType = UNSET
    bindings: list[Binding]


class Delivery(Struct, kw_only=True, tag="message", tag_field="type", rename="camel"):
    """One message: its exchange, primary routing key, CC routes (`route.<r>` keys without the
    prefix, as Pulse's `routes`) and its JSON body as published."""

    exchange: str
    routing_key: str
    routes: list[str]
    payload: Any


class StreamError(Struct, kw_only=True, tag="error", tag_field="type"):
    """A frame the server could not accept; nothing of that frame took effect."""

    id: str | UnsetType = UNSET
    message: str


ServerFrame = Subscribed | Unsubscribed | Delivery | StreamError

BODY_OF: dict[Exchange, type[Body]] = {
    Exchange.task_defined: TaskMessage,
    Exchange.task_pending: TaskMessage,
    Exchange.task_running: TaskMessage,
    Exchange.artifact_created: ArtifactCreated,
    Exchange.task_completed: TaskMessage,
    Exchange.task_failed: TaskMessage,
    Exchange.task_exception: TaskMessage,
    Exchange.task_group_resolved: TaskGroupChanged,
    Exchange.task_group_sealed: TaskGroupChanged,
    Exchange.task_priority_changed: TaskPriorityChanged,
    Exchange.task_group_priority_changed: TaskGroupPriorityChanged,
}


def read_scope(message: Message) -> str:
    """The scope that reading this message needs: the scope of the REST call showing the same
    facts (a task's status, a run's artifacts, a group's listing)."""
    body = message.body
    if isinstance(body, TaskGroupChanged | TaskGroupPriorityChanged):
        return f"queue:list-task-group:{body.task_group_id}"
    if isinstance(body, ArtifactCreated):
        return f"queue:list-artifacts:{body.status.task_id}:{body.run_id}"
    return f"queue:status:{body.status.task_id}"


def wildcard_read_scope(exchange: Exchange) -> str:
    """The scope that lets a caller read every message of an exchange."""
    if exchange in GROUP_EXCHANGES:
        return "queue:list-task-group:*"
    if exchange is Exchange.artifact_created:
        return "queue:list-artifacts:*"
    return "queue:status:*"
