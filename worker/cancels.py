"""Noticing within seconds that the queue resolved a run this worker holds (a cancel, a
deadline, an expired claim), by following the queue's event stream (protocol.md §11.3).

One subscription per worker, made before its first claim: task-exception messages whose
routing key names this worker (`primary.<taskId>.<runId>.<workerGroup>.<workerId>.#`). A
message about a run the worker is still running stops it at once. While the stream is down
(or the queue has none), `reclaim.watch_status` polls each held run's status instead, and at
a slower pace as a safety net while it is up.
"""

from __future__ import annotations

import asyncio
import logging
import random

from clients.client import ClientError, ResourceNotFound
from clients.protocol.events import Exchange, TaskMessage
from clients.protocol.stream import Binding

from .backoff import backoff_s
from .results import Abort
from .run import WorkerContext

__all__ = ["follow_cancels", "worker_binding"]

logger = logging.getLogger("infrax.worker.cancels")


def worker_binding(worker_group: str, worker_id: str) -> Binding:
    """task-exception messages about runs claimed by this worker (pure)."""
    return Binding.of(Exchange.task_exception, f"primary.*.*.{worker_group}.{worker_id}.#")


async def follow_cancels(context: WorkerContext) -> None:
    """Follow the stream until cancelled, reconnecting with backoff; give up for good on a
    queue without an event stream (404), leaving cancels to the status checks."""
    settings = context.settings
    if not settings.cancel_events:
        return
    binding = worker_binding(settings.worker_group, settings.worker_id)
    failures = 0
    while True:
        try:
            async with context.queue.events([binding]) as stream:
                context.events_connected = True
                failures = 0
                async for event in stream:
                    _notice(context, event.body)
        except ResourceNotFound:
            logger.warning("no_event_stream", extra={"reason": "cancels are polled"})
            return
        except ClientError as error:
            failures += 1
            logger.warning("event_stream_lost", extra={"reason": str(error)})
        finally:
            context.events_connected = False
        await asyncio.sleep(backoff_s(failures, random.random()))


def _notice(context: WorkerContext, body: object) -> None:
    if not isinstance(body, TaskMessage) or not isinstance(body.run_id, int):
        return
    run = context.active.get((body.status.task_id, body.run_id))
    if run is None or run.reporting:
        return
    reason = body.status.runs[body.run_id].reason_resolved
    run.abort(Abort.canceled, f"the queue resolved this run ({reason}): stopping")
