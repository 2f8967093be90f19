"""Handlers of claimWork, reclaimTask and the reports (protocol.md, "Claims").

claimWork long-polls: it registers as a waiter of its task queue before looking for work, so
a run that becomes pending between the look and the wait still wakes it. If the client goes
away (aiohttp cancels the handler), runs claimed for it are put back at once.
"""

from __future__ import annotations

import asyncio
import math
import time

from clients.protocol import tasks as t
from clients.protocol.states import ReasonResolved, RunState
from clients.protocol.times import format_ms

from ..bus import Waiter
from ..dispatch import AUTHENTICATOR, Call, handles
from ..keys import BUS, SETTINGS, STORE
from ..store.queue_txns import Claimed

__all__ = ["queue_credentials", "run_credentials"]


def queue_credentials(
    call: Call, name: str, scopes: list[str], expiry_ms: int
) -> t.TaskCredentials:
    """Named temporary credentials issued by the queue, from now until `expiry_ms`."""
    credentials = call.app[AUTHENTICATOR].issue(name, scopes, call.now_ms(), expiry_ms)
    return t.TaskCredentials(
        client_id=credentials.client_id,
        access_token=credentials.access_token,
        certificate=credentials.certificate or "",
    )


def run_credentials(
    call: Call,
    task_id: str,
    run_id: int,
    task_scopes: list[str],
    worker_group: str,
    worker_id: str,
    taken_until_ms: int,
) -> t.TaskCredentials:
    """Named temporary credentials for one run, valid until takenUntil (protocol.md)."""
    run = f"{task_id}/{run_id}"
    return queue_credentials(
        call,
        f"task-client/{run}/on/{worker_group}/{worker_id}/until/{taken_until_ms // 1000}",
        [
            f"queue:reclaim-task:{run}",
            f"queue:resolve-task:{run}",
            f"queue:create-artifact:{run}",
            *task_scopes,
        ],
        taken_until_ms,
    )


def _taken_until(call: Call, now_ms: int) -> int:
    """now + claim timeout, rounded up to whole seconds as Taskcluster does."""
    timeout_ms = call.app[SETTINGS].claim_timeout_s * 1000
    return math.ceil((now_ms + timeout_ms) / 1000) * 1000


def _claim_of(call: Call, claimed: Claimed, worker_group: str, worker_id: str) -> t.TaskClaim:
    return t.TaskClaim(
        status=claimed.status,
        run_id=claimed.run_id,
        worker_group=worker_group,
        worker_id=worker_id,
        taken_until=format_ms(claimed.taken_until_ms),
        task=claimed.task,
        credentials=run_credentials(
            call,
            claimed.status.task_id,
            claimed.run_id,
            claimed.task.scopes,
            worker_group,
            worker_id,
            claimed.taken_until_ms,
        ),
    )


@handles("claimWork")
async def claim_work(call: Call) -> t.ClaimWorkResponse:
    request: t.ClaimWorkRequest = call.body
    call.authorize(workerGroup=request.worker_group, workerId=request.worker_id)
    store, bus = call.app[STORE], call.app[BUS]
    queue = call.params["taskQueueId"]
    deadline = time.monotonic() + call.app[SETTINGS].claim_wait_s
    quarantined = await store.touch_worker(
        queue, request.worker_group, request.worker_id, call.now_ms()
    )
    if quarantined is not None:
        # A quarantined worker waits the whole poll and gets nothing (protocol.md).
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        return t.ClaimWorkResponse(tasks=[])
    with bus.waiting(queue) as woken:
        claimed = await _claim_when_woken(call, queue, request, woken, deadline)
    return await _answer(call, claimed, request)


async def _claim_when_woken(
    call: Call, queue: str, request: t.ClaimWorkRequest, woken: Waiter, deadline: float
) -> list[Claimed]:
    """Claim now, and again after each wake-up, until something is claimed or time is up."""
    while True:
        woken.clear()
        claimed = await _claim_once(call, queue, request, call.now_ms())
        remaining = deadline - time.monotonic()
        if claimed or remaining <= 0:
            return claimed
        try:
            await asyncio.wait_for(woken.wait(), remaining)
        except TimeoutError:
            return []


async def _claim_once(
    call: Call, queue: str, request: t.ClaimWorkRequest, now: int
) -> list[Claimed]:
    """One claim transaction; if the client went away meanwhile, its claims are put back."""
    store = call.app[STORE]
    attempt = asyncio.ensure_future(
        store.claim_work(
            queue,
            request.worker_group,
            request.worker_id,
            request.tasks,
            now,
            _taken_until(call, now),
        )
    )
    try:
        return await asyncio.shield(attempt)
    except asyncio.CancelledError:
        claimed = await attempt
        if claimed:
            await store.release_claims(claimed, call.now_ms())
        raise


async def _answer(
    call: Call, claimed: list[Claimed], request: t.ClaimWorkRequest
) -> t.ClaimWorkResponse:
    if not claimed:
        return t.ClaimWorkResponse(tasks=[])
    transport = call.request.transport
    if transport is None or transport.is_closing():
        await call.app[STORE].release_claims(claimed, call.now_ms())
        return t.ClaimWorkResponse(tasks=[])
    return t.ClaimWorkResponse(
        tasks=[_claim_of(call, c, request.worker_group, request.worker_id) for c in claimed]
    )


def _run_id(call: Call) -> int:
    return int(call.params["runId"])


@handles("reclaimTask")
async def reclaim_task(call: Call) -> t.TaskReclaimResponse:
    call.authorize()
    now = call.now_ms()
    until = _taken_until(call, now)
    run_id = _run_id(call)
    status, worker_group, worker_id = await call.app[STORE].reclaim_task(
        call.params["taskId"], run_id, now, until
    )
    record = await call.app[STORE].get_record(call.params["taskId"])
    scopes = record.task.scopes if record is not None else []
    return t.TaskReclaimResponse(
        status=status,
        run_id=run_id,
        worker_group=worker_group,
        worker_id=worker_id,
        taken_until=format_ms(until),
        credentials=run_credentials(
            call, status.task_id, run_id, scopes, worker_group, worker_id, until
        ),
    )


async def _resolve(call: Call, state: RunState, reason: ReasonResolved) -> t.TaskStatusResponse:
    call.authorize()
    status = await call.app[STORE].resolve_run(
        call.params["taskId"], _run_id(call), state, reason, call.now_ms()
    )
    return t.TaskStatusResponse(status=status)


@handles("reportCompleted")
async def report_completed(call: Call) -> t.TaskStatusResponse:
    return await _resolve(call, RunState.completed, ReasonResolved.completed)


@handles("reportFailed")
async def report_failed(call: Call) -> t.TaskStatusResponse:
    return await _resolve(call, RunState.failed, ReasonResolved.failed)


@handles("reportException")
async def report_exception(call: Call) -> t.TaskStatusResponse:
    request: t.ReportExceptionRequest = call.body
    return await _resolve(call, RunState.exception, ReasonResolved(request.reason))
