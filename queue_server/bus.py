"""The in-process event bus: queue exchange messages and claim wake-ups (protocol.md, "Events").

Messages are published after their transaction commits, in commit order. Subscribers are
called synchronously and must not block; the event stream, the AMQP publisher and the
scheduler each keep their own bounded buffer behind their callback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from clients.protocol.events import Exchange, Message, TaskMessage

__all__ = ["Bus"]

log = logging.getLogger("infrax.queue.bus")

Subscriber = Callable[[Message], None]


class Bus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._waiters: dict[str, set[asyncio.Event]] = {}

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Receive every message from now on; returns the function that unsubscribes."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def publish(self, messages: Iterable[Message]) -> None:
        for message in messages:
            if message.exchange is Exchange.task_pending and isinstance(message.body, TaskMessage):
                self.wake(message.body.status.task_queue_id)
            for subscriber in list(self._subscribers):
                try:
                    subscriber(message)
                except Exception:
                    # One broken consumer must not keep the others from the message, nor
                    # turn an already committed change into an error for its caller.
                    log.exception("subscriber failed", extra={"event": "subscriber_failed"})

    def wake(self, task_queue_id: str) -> None:
        """Wake every claimWork waiting on the task queue: a run became pending there."""
        for event in self._waiters.get(task_queue_id, ()):
            event.set()

    def wake_all(self) -> None:
        """Wake every claimWork waiting on any task queue (work may have arrived unheard)."""
        for events in self._waiters.values():
            for event in events:
                event.set()

    def waiting_count(self, task_queue_id: str) -> int:
        """How many claimWork calls wait on the task queue now."""
        return len(self._waiters.get(task_queue_id, ()))

    @contextmanager
    def waiting(self, task_queue_id: str) -> Iterator[asyncio.Event]:
        """An event set when work may be pending in the task queue, while the block runs."""
        event = asyncio.Event()
        waiters = self._waiters.setdefault(task_queue_id, set())
        waiters.add(event)
        try:
            yield event
        finally:
            waiters.discard(event)
            if not waiters:
                del self._waiters[task_queue_id]
