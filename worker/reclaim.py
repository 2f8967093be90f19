"""Keeping a claim alive, and noticing at once when the run is no longer ours.

`keep_claim` calls reclaimTask well before `takenUntil` (protocol.md, "reclaimTask") and
switches the run to the fresh credentials each answer carries. A 409 means the run was
canceled, passed its deadline or was resolved elsewhere (an expired claim): the run is stopped
at once and reports nothing.

Taskcluster's workers learn of a cancel only at that next reclaim, minutes later. The worker
follows the queue's event stream for the runs it holds (cancels.py) and stops a canceled run
at once. `watch_status` is the fallback that needs nothing but the Queue v1 API: while no
stream is up it checks each held run's status every `cancel_check_s` seconds (a small GET),
and every 30 s otherwise, in case the stream missed a message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from clients.client import ClientError, RequestConflict, credentials_of
from clients.protocol.states import RunState
from clients.protocol.times import parse_time

from .results import Abort

if TYPE_CHECKING:
    from .run import Run

__all__ = ["keep_claim", "reclaim_delay_s", "watch_status"]

logger = logging.getLogger("infrax.worker.reclaim")

RECLAIM_MARGIN_S = 180.0  # generic-worker reclaims 3 minutes before takenUntil
RETRY_S = 5.0
SAFETY_CHECK_S = 30.0  # status checks while the event stream is up: in case it missed one


def reclaim_delay_s(now_s: float, taken_until_s: float) -> float:
    """How long to wait before the next reclaim (pure).

    With more than twice the margin left, reclaim `RECLAIM_MARGIN_S` before `takenUntil`
    (generic-worker); with less, at half the time left (docker-worker's divisor of 2), so that
    short claim timeouts still leave room for a retry.
    """
    remaining = max(0.0, taken_until_s - now_s)
    if remaining > 2 * RECLAIM_MARGIN_S:
        return remaining - RECLAIM_MARGIN_S
    return remaining / 2


async def keep_claim(run: Run) -> None:
    """Reclaim until cancelled (the run ended) or the queue says the run is not ours."""
    while True:
        await asyncio.sleep(reclaim_delay_s(time.time(), run.taken_until_s))
        try:
            answer = await run.queue.reclaim_task(run.task_id, run.run_id)
        except RequestConflict:
            run.abort(Abort.canceled, "the queue says this run is no longer running: stopping")
            return
        except ClientError as error:
            if time.time() >= run.taken_until_s:
                run.abort(Abort.canceled, "the claim could not be renewed in time: stopping")
                return
            logger.warning(
                "reclaim_failed",
                extra={"task_id": run.task_id, "run_id": run.run_id, "reason": str(error)},
            )
            await asyncio.sleep(min(RETRY_S, reclaim_delay_s(time.time(), run.taken_until_s)))
            continue
        run.taken_until_s = parse_time(answer.taken_until) / 1000
        run.queue.use_credentials(credentials_of(answer.credentials))


async def watch_status(run: Run, interval_s: float) -> None:
    """Stop the run within `interval_s` of the queue resolving it (a cancel, a deadline), or
    within `SAFETY_CHECK_S` while the event stream (cancels.py) already watches for that."""
    checked = time.monotonic()
    while True:
        await asyncio.sleep(interval_s)
        if run.context.events_connected and time.monotonic() - checked < SAFETY_CHECK_S:
            continue
        checked = time.monotonic()
        try:
            answer = await run.queue.status(run.task_id)
        except ClientError:
            continue  # the reclaim loop decides what a queue that does not answer means
        runs = answer.status.runs
        if len(runs) <= run.run_id or runs[run.run_id].state != RunState.running:
            reason = runs[run.run_id].reason_resolved if len(runs) > run.run_id else "unknown"
            run.abort(Abort.canceled, f"the queue resolved this run ({reason}): stopping")
            return
