"""Exchange bindings: fire hooks when a matching queue message is published.

One event-stream websocket to the queue carries the union of every hook's bindings; it is
reconciled when hooks change (woken by this process, and at least every `--cron-poll`
seconds for changes made by another). For each message, every hook with a matching binding
(exchange, and a routing-key pattern matching the primary key or a `route.<route>` key) is
reloaded, the message body is checked against its triggerSchema (a refused body is dropped
with a log line, as Taskcluster does) and the hook fires with `firedBy: pulseMessage` and the
body as `payload`. The taskId is derived from the hook and the message, and a claim row per
(hook, message) means processes sharing a data directory fire once (protocol.md, "Bindings").
Messages published while the stream is reconnecting are not seen.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import time
from typing import Any

import msgspec

from clients.client import ClientError, Queue
from clients.client.events import Event, EventStream
from clients.protocol.events import EXCHANGE_PREFIX
from clients.protocol.hooks import HookDefinition
from clients.protocol.routing import Pattern
from clients.protocol.stream import Binding

from .core.templates import TriggerSchemaError, validate_payload
from .firing import Firer
from .store import HookStore

__all__ = ["Bindings", "message_task_id"]

log = logging.getLogger("infrax.scheduler")

RECONNECT_S = 1.0


def message_task_id(hook: HookDefinition, digest: str) -> str:
    """A slugid fixed by hook and message, so a repeated fire stays one task."""
    raw = bytearray(
        hashlib.sha256(f"{hook.hook_group_id}/{hook.hook_id}\n{digest}".encode()).digest()[:16]
    )
    raw[6] = (raw[6] & 0x0F) | 0x40  # a v4-shaped UUID, as slugids are
    raw[8] = (raw[8] & 0x3F) | 0x80
    raw[0] &= 0x7F
    return base64.urlsafe_b64encode(bytes(raw)).decode()[:22]


def _keys(event: Event) -> list[str]:
    return [event.routing_key, *(f"route.{route}" for route in event.routes)]


def _matches(hook: HookDefinition, exchange: str, keys: list[str]) -> bool:
    return any(
        b.exchange == exchange
        and any(Pattern.compile(b.routing_key_pattern).matches(k.split(".")) for k in keys)
        for b in hook.bindings
    )


class Bindings:
    def __init__(self, store: HookStore, firer: Firer, queue: Queue, poll_s: float) -> None:
        self._store = store
        self._firer = firer
        self._queue = queue
        self._poll_s = poll_s
        self._changed = asyncio.Event()
        self._subscribed: set[Binding] = set()
        self._hooks: list[HookDefinition] = []
        self._asked = 0  # generations: a refresh asked for, and the last one reconciled
        self._done = 0
        self._reconciled = asyncio.Condition()

    async def refresh(self, timeout_s: float = 5.0) -> bool:
        """Reconcile with the stored hooks now; True once the stream carries them (so a
        binding made by createHook sees every message published after it answers)."""
        self._asked += 1
        wanted = self._asked
        self._changed.set()
        async with self._reconciled:
            try:
                await asyncio.wait_for(
                    self._reconciled.wait_for(lambda: self._done >= wanted), timeout_s
                )
            except TimeoutError:
                return False
        return True

    async def _mark(self, generation: int) -> None:
        async with self._reconciled:
            self._done = max(self._done, generation)
            self._reconciled.notify_all()

    async def run(self) -> None:
        """Keep a stream open while any hook has bindings; reconnect when it drops."""
        while True:
            try:
                await self._serve()
            except (ClientError, OSError) as error:
                log.warning("event stream lost: %s", error, extra={"event": "bindings_lost"})
            except Exception:
                log.exception("bindings failed", extra={"event": "bindings_error"})
            self._subscribed = set()
            await asyncio.sleep(RECONNECT_S)

    async def _wanted(self) -> set[Binding]:
        self._hooks = [row.definition for row in await self._store.hooks_with_bindings()]
        return {
            Binding(exchange=b.exchange, routing_key_pattern=b.routing_key_pattern)
            for hook in self._hooks
            for b in hook.bindings
            if b.exchange.startswith(EXCHANGE_PREFIX)
        }

    async def _serve(self) -> None:
        while True:
            generation = self._asked
            if await self._wanted():
                break
            await self._mark(generation)
            await self._wait_for_change()
        async with self._queue.events() as stream:
            reader = asyncio.create_task(self._consume(stream))
            try:
                while not reader.done():
                    await self._reconcile(stream)
                    await self._wait_for_change(reader)
                reader.result()
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    async def _wait_for_change(self, reader: asyncio.Task[None] | None = None) -> None:
        self._changed.clear()
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._changed.wait())]
        if reader is not None:
            waits.append(reader)
        done, _pending = await asyncio.wait(
            waits, timeout=self._poll_s, return_when="FIRST_COMPLETED"
        )
        if waits[0] not in done:
            waits[0].cancel()

    async def _reconcile(self, stream: EventStream) -> None:
        generation = self._asked
        wanted = await self._wanted()
        added, removed = wanted - self._subscribed, self._subscribed - wanted
        if added:
            await stream.subscribe(sorted(added, key=lambda b: (b.exchange, b.routing_key_pattern)))
        if removed:
            await stream.unsubscribe(list(removed))
        self._subscribed = wanted
        await self._mark(generation)

    async def _consume(self, stream: EventStream) -> None:
        async for event in stream:
            try:
                await self.deliver(event)
            except Exception:
                log.exception("a bound message failed", extra={"event": "binding_fire_error"})

    async def deliver(self, event: Event) -> int:
        """Fire every hook bound to the message; how many fired."""
        exchange = EXCHANGE_PREFIX + str(event.exchange)
        body = msgspec.to_builtins(event.body)
        digest = hashlib.sha256(
            msgspec.json.encode([exchange, event.routing_key, body])
        ).hexdigest()
        fired = 0
        keys = _keys(event)
        for hook in [h for h in self._hooks if _matches(h, exchange, keys)]:
            row = await self._store.get_hook(hook.hook_group_id, hook.hook_id)
            if row is None or not _matches(row.definition, exchange, keys):
                continue
            try:
                validate_payload(row.definition.trigger_schema, body)
            except TriggerSchemaError as error:
                log.info(
                    "message refused by a triggerSchema: %s",
                    error,
                    extra={"event": "binding_refused"},
                )
                continue
            now_ms = int(time.time() * 1000)
            if not await self._store.claim_message(
                hook.hook_group_id, hook.hook_id, digest, now_ms
            ):
                continue
            await self._firer.fire_and_record(
                row.definition, "pulseMessage", message_task_id(row.definition, digest), body
            )
            fired += 1
        return fired
