"""Event figures: delivery over the event stream, and what the AMQP outbox costs.

- delivery: a websocket subscriber (the typed client's EventStream) bound to `task-defined`
  for one task queue; the clock runs from sending createTask to receiving the message (the
  server publishes before it answers, so the message often arrives with the response: the
  figure is the whole path, request to delivered event).
- outbox: the lifecycle round again with `--amqp-url` to the local RabbitMQ (every message
  also written to the outbox in its transaction and published with confirms), compared with
  the plain lifecycle round of the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass

from clients.client import Options, Queue
from clients.protocol.events import Exchange
from clients.protocol.stream import Binding

from .client import QueueClient, session
from .lifecycle import LifecycleRound, LifecycleSizes, run_lifecycle_round
from .server import BenchError, running_queue

__all__ = ["AMQP_URL", "DeliveryRound", "amqp_available", "run_amqp_round", "run_delivery_round"]

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
TASK_QUEUE = "bench/events"
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DeliveryRound:
    samples_ms: list[float]


async def run_delivery_round(samples: int) -> DeliveryRound:
    """`samples` tasks created one after the other, each timed until its message arrives."""
    async with running_queue() as queue, session(4) as http:
        client = QueueClient(http, queue)
        async with (
            Queue(Options(queue.root_url)) as reader,
            reader.events([Binding.for_task_queue(Exchange.task_defined, TASK_QUEUE)]) as stream,
        ):
            timings = []
            for _ in range(samples + 1):  # the first is a warm-up
                sent = time.perf_counter()
                task_id = await client.create_task(TASK_QUEUE)
                event = await asyncio.wait_for(anext(stream), TIMEOUT_S)
                timings.append((time.perf_counter() - sent) * 1000)
                if event.routing_key.split(".")[1] != task_id:
                    raise BenchError(f"the stream delivered {event.routing_key}, not {task_id}")
        return DeliveryRound(timings[1:])


async def amqp_available() -> bool:
    import aiormq

    try:
        connection = await asyncio.wait_for(aiormq.connect(AMQP_URL), 5)
    except (OSError, TimeoutError, aiormq.exceptions.AMQPError):
        return False
    await connection.close()
    return True


async def run_amqp_round(sizes: LifecycleSizes) -> LifecycleRound:
    """The lifecycle round with the AMQP publisher on, under exchanges of its own."""
    import aiormq

    prefix = f"exchange/infrax-bench-{uuid.uuid4().hex[:12]}/v1/"
    try:
        return await run_lifecycle_round(
            sizes, "--amqp-url", AMQP_URL, "--amqp-exchange-prefix", prefix
        )
    finally:
        with contextlib.suppress(OSError, aiormq.exceptions.AMQPError):
            connection = await aiormq.connect(AMQP_URL)
            channel = await connection.channel()
            for exchange in Exchange:
                await channel.exchange_delete(prefix + exchange.value)
            await connection.close()
