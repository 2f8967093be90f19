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
from .report import Figure, percentile, summarize
from .server import BenchError, running_queue

__all__ = ["AMQP_URL", "amqp_available", "event_figures"]

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
TASK_QUEUE = "bench/events"
TIMEOUT_S = 30.0
EVENT_P50 = "createTask to event p50"
EVENT_P99 = "createTask to event p99"
AMQP_LIFECYCLE = "lifecycle with AMQP outbox"
AMQP_RATIO = "AMQP outbox / plain"


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
        args = ("--amqp-url", AMQP_URL, "--amqp-exchange-prefix", prefix)
        return await run_lifecycle_round(sizes, lambda: running_queue(*args))
    finally:
        with contextlib.suppress(OSError, aiormq.exceptions.AMQPError):
            connection = await aiormq.connect(AMQP_URL)
            channel = await connection.channel()
            for exchange in Exchange:
                await channel.exchange_delete(prefix + exchange.value)
            await connection.close()


async def event_figures(
    rounds: int, sizes: LifecycleSizes, samples: int, amqp: bool
) -> list[Figure]:
    """Delivery latency; with `amqp`, lifecycle rounds with and without the outbox,
    alternating so that both see the same machine."""
    delivery = [await run_delivery_round(samples) for _ in range(rounds)]
    figures = [
        summarize(EVENT_P50, "ms", [percentile(r.samples_ms, 50) for r in delivery]),
        summarize(EVENT_P99, "ms", [percentile(r.samples_ms, 99) for r in delivery]),
    ]
    if not amqp:
        return figures
    plain: list[LifecycleRound] = []
    with_outbox: list[LifecycleRound] = []
    for _ in range(rounds):
        plain.append(await run_lifecycle_round(sizes, running_queue))
        with_outbox.append(await run_amqp_round(sizes))
    ratios = [a.tasks_per_s / p.tasks_per_s for a, p in zip(with_outbox, plain, strict=True)]
    return [
        *figures,
        summarize(AMQP_LIFECYCLE, "tasks/s", [r.tasks_per_s for r in with_outbox]),
        summarize(AMQP_RATIO, "x", ratios),
    ]
