"""The in-process event bus: queue exchange messages and claim wake-ups (protocol.md, "Events").

Messages are published after their transaction commits, in commit order. Subscribers are
called synchronously and must not block; the event stream, the AMQP publisher and the
scheduler each keep their own bounded buffer behind their callback.

Wake-ups: each run that becomes pending wakes one claimWork waiting on its task queue (the
one waiting longest), not all of them, so that a thousand idle workers cost one claim
transaction per new run instead of a thousand. No run is left unheard while a waiter sleeps:
a waiter looks for work before its first wait and after each wake-up; a wake-up finding every
waiter already awake needs no one, since each of them looks again after it; and a waiter that
leaves still woken (the wake-up came while it was claiming something else) passes the wake-up
on to another waiter.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from clients.protocol.events import Exchange, Message, TaskMessage

__all__ = ["Bus", "Waiter"]

log = logging.getLogger("infrax.queue.bus")

Subscriber = Callable[[Message], None]


class Waiter:
    """One claimWork waiting on a task queue: woken (set) when work may be pending there."""

    __slots__ = ("_event", "_unwoken")

    def __init__(self, unwoken: OrderedDict[Waiter, None]) -> None:
        self._event = asyncio.Event()
        self._unwoken = unwoken  # the task queue's waiters not woken yet, longest waiting first
        unwoken[self] = None

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._unwoken.pop(self, None)
        self._event.set()

    def clear(self) -> None:
        """About to look for work: a run that becomes pending from now on may wake it."""
        if self._event.is_set():
            self._event.clear()
            self._unwoken[self] = None

    async def wait(self) -> None:
        await self._event.wait()


class Bus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._waiters: dict[str, set[Waiter]] = {}
        self._unwoken: dict[str, OrderedDict[Waiter, None]] = {}

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
        """A run became pending in the task queue: wake the claimWork that has waited longest
        and is not woken yet (none, when every waiter is already awake)."""
        unwoken = self._unwoken.get(task_queue_id)
        if unwoken:
            waiter, _ = unwoken.popitem(last=False)
            waiter.set()

    def wake_all(self) -> None:
        """Wake every claimWork waiting on any task queue (work may have arrived unheard)."""
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.set()

    def waiting_count(self, task_queue_id: str) -> int:
        """How many claimWork calls wait on the task queue now."""
        return len(self._waiters.get(task_queue_id, ()))

    @contextmanager
    def waiting(self, task_queue_id: str) -> Iterator[Waiter]:
        """A waiter woken when work may be pending in the task queue, while the block runs."""
        waiters = self._waiters.setdefault(task_queue_id, set())
        waiter = Waiter(self._unwoken.setdefault(task_queue_id, OrderedDict()))
        waiters.add(waiter)
        try:
            yield waiter
        finally:
            waiters.discard(waiter)
            self._unwoken[task_queue_id].pop(waiter, None)
            if not waiters:
                del self._waiters[task_queue_id]
                del self._unwoken[task_queue_id]
            elif waiter.is_set():
                self.wake(task_queue_id)  # a wake-up it did not use goes to another waiter
