"""Publishing to the real RabbitMQ on 127.0.0.1:5672: Pulse exchange names, persistent JSON,
CC routes, order; and the outbox keeping every message while the broker is unreachable
(through a TCP switch this test controls) and across a restart, draining when it returns.

Each test uses its own exchange prefix, so parallel runs on one broker do not collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiormq
import aiormq.abc
import pytest
import slugid

from clients import hawk
from clients.client import Options, Queue, RequestConflict, credentials_of
from clients.protocol.events import Exchange
from queue_server.keys import PUBLISHER, STORE
from tests.conftest import ROOT_TOKEN, RunningQueue, queue_settings, start_queue, stop_queue
from tests.helpers import task_definition

pytestmark = pytest.mark.rabbitmq

BROKER = ("127.0.0.1", 5672)
BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"
ROOT = hawk.Credentials("root", ROOT_TOKEN)
TIMEOUT = 30.0
T = TypeVar("T")


@dataclass
class Received:
    exchange: str
    routing_key: str
    body: dict[str, Any]
    properties: Any


@dataclass
class Consumer:
    """A queue of our own on the real broker, bound by routing key to some exchanges."""

    channel: aiormq.abc.AbstractChannel
    queue: str
    prefix: str
    messages: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)

    async def bind(self, exchange: Exchange, routing_key: str) -> None:
        await self.channel.queue_bind(
            self.queue, self.prefix + exchange.value, routing_key=routing_key
        )

    async def next(self) -> Received:
        return await asyncio.wait_for(self.messages.get(), TIMEOUT)

    async def on_message(self, message: aiormq.abc.DeliveredMessage) -> None:
        await self.messages.put(
            Received(
                message.delivery.exchange,
                message.delivery.routing_key,
                json.loads(message.body),
                message.header.properties,
            )
        )


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """An exchange prefix of this test's own; its exchanges are deleted afterwards."""
    name = f"exchange/infrax-test-{uuid.uuid4().hex[:12]}/v1/"
    try:
        connection = await asyncio.wait_for(aiormq.connect(BROKER_URL), 10)
    except (OSError, aiormq.exceptions.AMQPError, TimeoutError) as error:
        pytest.skip(f"no RabbitMQ answers at {BROKER_URL} ({error!r})")
    try:
        yield name
    finally:
        channel = await connection.channel()
        for exchange in Exchange:
            await channel.exchange_delete(name + exchange.value)
        await connection.close()


@pytest.fixture
async def consumer(prefix: str) -> AsyncIterator[Consumer]:
    connection = await aiormq.connect(BROKER_URL)
    channel = await connection.channel()
    for exchange in Exchange:  # as the publisher declares them; declaring is idempotent
        await channel.exchange_declare(prefix + exchange.value, exchange_type="topic", durable=True)
    declared = await channel.queue_declare("", exclusive=True, auto_delete=True)
    assert declared.queue is not None
    made = Consumer(channel, declared.queue, prefix)
    await channel.basic_consume(declared.queue, made.on_message, no_ack=True)
    try:
        yield made
    finally:
        await connection.close()


class Switch:
    """A TCP forwarder to the broker that can be cut: while down it closes every connection."""

    def __init__(self) -> None:
        self.up = False
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"amqp://guest:guest@127.0.0.1:{port}/"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        self.up = False
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*BROKER)
        self._open |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


@pytest.fixture
async def switch() -> AsyncIterator[Switch]:
    made = Switch()
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


async def on_server(running: RunningQueue, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `work()` on the queue's own loop without blocking this one."""
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work(), running.loop))


async def backlog(running: RunningQueue) -> int:
    return await on_server(running, lambda: running.runner.app[STORE].outbox_backlog())


async def drained(running: RunningQueue) -> None:
    """Wait until the publisher has found the outbox empty after publishing what it held."""
    publisher = running.runner.app[PUBLISHER]
    await on_server(running, lambda: asyncio.wait_for(publisher.drained.wait(), TIMEOUT))


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, url: str, prefix: str) -> AsyncIterator[RunningQueue]:
    settings = queue_settings(
        tmp_path, amqp_url=url, amqp_exchange_prefix=prefix, amqp_max_backoff_s=0.3
    )
    running, thread = await asyncio.to_thread(start_queue, settings)
    try:
        yield running
    finally:
        await asyncio.to_thread(stop_queue, running, thread)


async def created(client: Queue, count: int, **overrides: object) -> list[str]:
    task_ids = [slugid.nice() for _ in range(count)]
    for task_id in task_ids:
        await client.create_task(task_id, task_definition("prov/amqp", **overrides))
    return task_ids


def task_ids_of(received: list[Received]) -> list[str]:
    return [r.body["status"]["taskId"] for r in received]


async def test_messages_reach_pulse_named_exchanges_as_persistent_json_in_order(
    tmp_path: Path, prefix: str, consumer: Consumer
) -> None:
    await consumer.bind(Exchange.task_defined, "primary.#")
    await consumer.bind(Exchange.task_pending, "route.notify.#")
    async with (
        serving(tmp_path, BROKER_URL, prefix) as running,
        Queue(Options(running.root_url, ROOT)) as client,
    ):
        plain = await created(client, 3)
        [routed] = await created(client, 1, routes=["notify.team"])
        [claim] = (await client.claim_work("prov/amqp", worker_group="g", worker_id="w")).tasks
        await consumer.bind(Exchange.task_completed, f"primary.{claim.status.task_id}.#")
        worker = client.with_credentials(credentials_of(claim.credentials))
        await worker.report_completed(claim.status.task_id, claim.run_id)
        got = [await consumer.next() for _ in range(6)]
    defined = [r for r in got if r.exchange == prefix + "task-defined"]
    assert task_ids_of(defined) == [*plain, routed]
    [pending] = [r for r in got if r.exchange == prefix + "task-pending"]
    assert task_ids_of([pending]) == [routed]
    assert pending.routing_key.startswith(f"primary.{routed}.0.")
    assert pending.properties.headers == {"CC": ["route.notify.team"]}
    [completed] = [r for r in got if r.exchange == prefix + "task-completed"]
    assert completed.body["status"]["state"] == "completed"
    assert completed.body["workerId"] == "w"
    for message in got:
        assert message.properties.delivery_mode == 2
        assert message.properties.content_type == "application/json"
        assert message.body["version"] == 1


async def test_the_outbox_keeps_messages_while_the_broker_is_unreachable_and_drains_after(
    tmp_path: Path, prefix: str, consumer: Consumer, switch: Switch
) -> None:
    await consumer.bind(Exchange.task_defined, "primary.#")
    switch.up = True
    async with (
        serving(tmp_path, switch.url, prefix) as running,
        Queue(Options(running.root_url, ROOT)) as client,
    ):
        first = await created(client, 1)
        assert task_ids_of([await consumer.next()]) == first
        await drained(running)
        switch.cut()  # the broker becomes unreachable, connections included
        during = await created(client, 4)  # the API answers as usual meanwhile
        assert await backlog(running) == 8  # 4 x (task-defined + task-pending), all kept
        switch.up = True
        received = [await consumer.next() for _ in range(4)]
        await drained(running)
        assert await backlog(running) == 0
    # at-least-once: a message may come twice around the cut, never not at all, and in order
    assert list(dict.fromkeys(task_ids_of(received))) == during


async def test_the_outbox_survives_a_restart_while_the_broker_is_down(
    tmp_path: Path, prefix: str, consumer: Consumer, switch: Switch
) -> None:
    await consumer.bind(Exchange.task_defined, "primary.#")
    async with (
        serving(tmp_path, switch.url, prefix) as running,
        Queue(Options(running.root_url, ROOT)) as client,
    ):
        made = await created(client, 5)
        assert await backlog(running) == 10  # nothing could be published, nothing is lost
        with pytest.raises(RequestConflict):  # a change that fails writes no message
            await client.create_task(made[0], task_definition("prov/amqp", priority="high"))
        assert await backlog(running) == 10
    async with serving(tmp_path, switch.url, prefix) as restarted:
        assert await backlog(restarted) == 10
        switch.up = True
        received = [await consumer.next() for _ in range(5)]
        await drained(restarted)
        assert await backlog(restarted) == 0
    assert task_ids_of(received) == made
