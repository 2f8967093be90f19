"""The event stream's fan-out (protocol.md, "Event stream").

Invariants kept here:
- every binding of a connected subscriber is in exactly one place of its exchange's index:
  under its first two words when both are literal (`primary.<taskId>.#`), else in `others`;
  so a message is matched against the bindings that can match its key and never all of them;
- a subscriber receives each matching message once, however many of its bindings and of the
  message's routing keys (primary and CC) match, in publication order;
- a subscriber never holds more than `limit` frames: one more and it is dropped, closed with
  CLOSE_TOO_SLOW, and removed from the index before the next message.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec

from clients.protocol.events import Exchange, Message
from clients.protocol.routing import Pattern
from clients.protocol.scopes import ScopeSet
from clients.protocol.stream import CLOSE_TOO_SLOW, Delivery, read_scope, wildcard_read_scope

__all__ = ["Hub", "Subscriber"]

log = logging.getLogger("infrax.queue.events")

_encode = msgspec.json.Encoder().encode
Head = tuple[str, str]


class Subscriber:
    """One websocket connection: its scopes, bindings and bounded outgoing frames."""

    def __init__(self, scopes: ScopeSet, limit: int) -> None:
        self.scopes = scopes
        self.bindings: dict[Exchange, set[Pattern]] = {}
        self.closed: tuple[int, str] | None = None
        self._limit = limit
        self._frames: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self._reads_all: dict[Exchange, bool] = {}

    @property
    def binding_count(self) -> int:
        return sum(len(patterns) for patterns in self.bindings.values())

    def reads_all(self, exchange: Exchange) -> bool:
        if exchange not in self._reads_all:
            self._reads_all[exchange] = self.scopes.satisfies(wildcard_read_scope(exchange))
        return self._reads_all[exchange]

    def may_read(self, message: Message) -> bool:
        return self.reads_all(message.exchange) or self.scopes.satisfies(read_scope(message))

    def offer(self, frame: bytes) -> bool:
        """Queue a frame; False (and nothing queued) when the buffer is full."""
        if self.closed is not None:
            return True
        if len(self._frames) >= self._limit:
            return False
        self._frames.append(frame)
        self._ready.set()
        return True

    def close(self, code: int, reason: str) -> None:
        """Stop: frames still waiting are discarded, the connection closes with this reason."""
        if self.closed is None:
            self.closed = (code, reason)
            self._frames.clear()
            self._ready.set()

    async def take(self) -> list[bytes]:
        """The frames waiting, once there is at least one; [] once closed."""
        await self._ready.wait()
        self._ready.clear()
        if self.closed is not None:
            return []
        frames = list(self._frames)
        self._frames.clear()
        return frames


@dataclass
class _Index:
    heads: dict[Head, dict[Subscriber, set[Pattern]]] = field(default_factory=dict)
    others: dict[Subscriber, set[Pattern]] = field(default_factory=dict)

    def group(self, pattern: Pattern) -> dict[Subscriber, set[Pattern]]:
        head = pattern.literal_head
        return self.others if head is None else self.heads.setdefault(head, {})

    def candidates(self, words: list[str]) -> Iterable[tuple[Subscriber, set[Pattern]]]:
        if len(words) >= 2:
            yield from self.heads.get((words[0], words[1]), {}).items()
        yield from self.others.items()


class Hub:
    """Matches every published message against the subscribers' bindings."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._index: dict[Exchange, _Index] = {}
        self._subscribers: set[Subscriber] = set()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def connect(self, scopes: ScopeSet) -> Subscriber:
        subscriber = Subscriber(scopes, self.limit)
        self._subscribers.add(subscriber)
        return subscriber

    def disconnect(self, subscriber: Subscriber) -> None:
        for exchange, patterns in list(subscriber.bindings.items()):
            self.unbind(subscriber, exchange, list(patterns))
        self._subscribers.discard(subscriber)

    def bind(self, subscriber: Subscriber, exchange: Exchange, patterns: list[Pattern]) -> None:
        index = self._index.setdefault(exchange, _Index())
        for pattern in patterns:
            index.group(pattern).setdefault(subscriber, set()).add(pattern)
            subscriber.bindings.setdefault(exchange, set()).add(pattern)

    def unbind(self, subscriber: Subscriber, exchange: Exchange, patterns: list[Pattern]) -> None:
        index = self._index.get(exchange)
        held = subscriber.bindings.get(exchange, set())
        for pattern in patterns:
            held.discard(pattern)
            if index is None:
                continue
            group = index.group(pattern)
            mine = group.get(subscriber, set())
            mine.discard(pattern)
            if not mine:
                group.pop(subscriber, None)
            head = pattern.literal_head
            if head is not None and not index.heads.get(head):
                index.heads.pop(head, None)
        if not held:
            subscriber.bindings.pop(exchange, None)

    def publish(self, message: Message) -> None:
        """The bus callback: queue the message for every subscriber it matches and may read."""
        index = self._index.get(message.exchange)
        if index is None:
            return
        frame: bytes | None = None
        too_slow: list[Subscriber] = []
        for subscriber in self._matching(index, message):
            if not subscriber.may_read(message):
                continue
            frame = frame or _frame(message)
            if not subscriber.offer(frame):
                too_slow.append(subscriber)
        for subscriber in too_slow:
            self.drop_too_slow(subscriber)

    def _matching(self, index: _Index, message: Message) -> list[Subscriber]:
        found: list[Subscriber] = []
        seen: set[Subscriber] = set()
        for key in (message.routing_key, *message.cc):
            words = key.split(".")
            for subscriber, patterns in index.candidates(words):
                if subscriber not in seen and any(p.matches(words) for p in patterns):
                    seen.add(subscriber)
                    found.append(subscriber)
        return found

    def drop_too_slow(self, subscriber: Subscriber) -> None:
        log.warning(
            "event-stream subscriber dropped: too slow",
            extra={"event": "subscriber_dropped", "reason": "too-slow", "buffer": self.limit},
        )
        subscriber.close(
            CLOSE_TOO_SLOW,
            f"too slow: {self.limit} messages were waiting; reconnect and resubscribe",
        )
        self.disconnect(subscriber)

    def close_all(self, code: int, reason: str) -> None:
        for subscriber in list(self._subscribers):
            subscriber.close(code, reason)
            self.disconnect(subscriber)


def _frame(message: Message) -> bytes:
    routes = [key.removeprefix("route.") for key in message.cc]
    delivery = Delivery(
        exchange=message.exchange_name,
        routing_key=message.routing_key,
        routes=routes,
        payload=message.body,
    )
    return _encode(delivery)
