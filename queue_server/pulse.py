"""Publishing the queue's messages to RabbitMQ as Taskcluster's Pulse does (protocol.md, "AMQP").

The API never waits for the broker: each transaction writes its messages to the outbox
(store/outbox.py) and this loop drains it, in order, with publisher confirms, deleting rows
only once confirmed. A broker that cannot be reached is retried with jittered exponential
backoff, forever; the outbox keeps every message meanwhile, across restarts too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiormq
import aiormq.abc
from pamqp.commands import Basic

from clients.client.retry import RetryPolicy
from clients.protocol.events import Exchange

from .bus import Bus
from .store.base import Store
from .store.outbox import OutboxRow

__all__ = ["BrokerRefusedError", "OutboxPublisher"]

log = logging.getLogger("infrax.queue.amqp")

BATCH = 500
IDLE_CHECK_S = 5.0  # look at the outbox this often even without a wake-up
# After a wake-up, let a few more transactions commit before reading the outbox: one read,
# one publish burst and one delete then carry many messages, instead of one database hop per
# message competing with the API for the database thread.
COALESCE_S = 0.02
CONNECT_TIMEOUT_S = 10.0
_BROKER_ERRORS = (
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,  # a RuntimeError: the channel died under us
    ConnectionError,
    OSError,
    TimeoutError,
)


class BrokerRefusedError(Exception):
    """The broker answered a publish with a nack."""


def _where(url: str) -> str:
    """The broker's host and port, for logs: never the credentials in the URL."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5672}"


class OutboxPublisher:
    """Drains the outbox into topic exchanges named ``prefix + <exchange>``."""

    def __init__(self, store: Store, bus: Bus, url: str, prefix: str, max_backoff_s: float) -> None:
        self._store, self._url, self._prefix = store, url, prefix
        self._retry = RetryPolicy(base_delay_s=0.2, max_delay_s=max_backoff_s)
        self._wake = asyncio.Event()
        self.published = 0
        self.drained = asyncio.Event()  # set when a pass found the outbox empty
        bus.subscribe(lambda _message: self._wake.set())

    async def run(self) -> None:
        """Publish forever, reconnecting with backoff whenever the broker fails."""
        failures = 0
        while True:
            try:
                async with self._channel() as channel:
                    failures = 0
                    while True:
                        await self.drain(channel)
                        await self._idle()
            except Exception as error:
                # Whatever failed (the broker, the network, a library quirk), the rows stay in
                # the outbox and are published after the next connection: never lost.
                if not isinstance(error, (*_BROKER_ERRORS, BrokerRefusedError)):
                    log.exception("AMQP publisher failed", extra={"event": "amqp_failed"})
                delay = self._retry.delay_s(failures, random.random())
                failures += 1
                log.warning(
                    "AMQP publishing failed; retrying",
                    extra={
                        "event": "amqp_retry",
                        "broker": _where(self._url),
                        "reason": repr(error),
                        "delay_s": round(delay, 3),
                    },
                )
                await asyncio.sleep(delay)

    @contextlib.asynccontextmanager
    async def _channel(self) -> AsyncIterator[aiormq.abc.AbstractChannel]:
        connection = await asyncio.wait_for(aiormq.connect(self._url), CONNECT_TIMEOUT_S)
        try:
            channel = await connection.channel(publisher_confirms=True)
            for exchange in Exchange:
                await channel.exchange_declare(
                    exchange=self._prefix + exchange.value, exchange_type="topic", durable=True
                )
            log.info(
                "AMQP connected", extra={"event": "amqp_connected", "broker": _where(self._url)}
            )
            yield channel
        finally:
            with contextlib.suppress(*_BROKER_ERRORS):
                await connection.close()

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), IDLE_CHECK_S)
            await asyncio.sleep(COALESCE_S)

    async def drain(self, channel: aiormq.abc.AbstractChannel) -> int:
        """Publish every row of the outbox, batch after batch; how many were published."""
        total = 0
        while True:
            self._wake.clear()
            rows = await self._store.outbox_rows(BATCH)
            if not rows:
                self.drained.set()
                return total
            self.drained.clear()
            await self._publish(channel, rows)
            await self._store.outbox_delete(rows[-1].seq)
            total += len(rows)
            self.published += len(rows)

    async def _publish(self, channel: aiormq.abc.AbstractChannel, rows: list[OutboxRow]) -> None:
        # One task per row, created in seq order: aiormq writes them in that order under its
        # channel lock, and the confirms are then awaited together.
        sends = [asyncio.ensure_future(self._send(channel, row)) for row in rows]
        try:
            confirms = await asyncio.gather(*sends)
        finally:
            for send in sends:
                send.cancel()
        if any(not isinstance(confirm, Basic.Ack) for confirm in confirms):
            raise BrokerRefusedError("the broker did not confirm every message")

    async def _send(
        self, channel: aiormq.abc.AbstractChannel, row: OutboxRow
    ) -> aiormq.abc.ConfirmationFrameType | None:
        properties = aiormq.spec.Basic.Properties(
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,  # persistent
            headers={"CC": list(row.cc)} if row.cc else None,
        )
        return await channel.basic_publish(
            row.body,
            exchange=self._prefix + row.exchange,
            routing_key=row.routing_key,
            properties=properties,
        )
