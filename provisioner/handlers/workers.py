"""Handlers of workers (protocol.md, "Worker-manager"): list, read, create (static), remove,
shouldWorkerTerminate."""

from __future__ import annotations

from msgspec import UNSET

from clients.protocol import worker_manager as wm
from clients.protocol.errors import ApiError, ErrorCode, input_error
from clients.protocol.times import parse_time

from ..dispatch import Call, handles
from ..fleet import hash_secret
from ..keys import FLEET, PROVISIONER, STORE
from ..store import WorkerRow
from .common import (
    next_token,
    now_ms,
    page,
    pool_or_404,
    worker_key,
    worker_or_404,
    worker_response,
)

__all__: list[str] = []

S = wm.WorkerState


@handles("listWorkersForWorkerPool")
async def list_workers_for_worker_pool(call: Call) -> wm.ListWorkersResponse:
    call.authorize()
    offset, limit = page(call)
    state_text = call.request.query.get("state")
    if state_text is not None and state_text not in S.__members__:
        raise ApiError(
            ErrorCode.invalid_request_arguments,
            f"`state` must be one of {', '.join(S.__members__)}",
        )
    pool = await pool_or_404(call)
    states = tuple(S) if state_text is None else (S(state_text),)
    workers = await call.app[STORE].list_workers(
        pool.worker_pool_id, states, call.request.query.get("launchConfigId"), offset, limit
    )
    token = next_token(offset, limit, len(workers))
    return wm.ListWorkersResponse(
        workers=[worker_response(w) for w in workers], continuation_token=token or UNSET
    )


@handles("worker")
async def worker(call: Call) -> wm.Worker:
    call.authorize()
    return worker_response(await worker_or_404(call))


def _expires(text: str, now: int) -> int:
    try:
        expires = parse_time(text)
    except ValueError:
        raise input_error(f"expires: {text!r} is not a date-time") from None
    if expires <= now:
        raise input_error("expires must be in the future")
    return expires


@handles("createWorker")
async def create_worker(call: Call) -> wm.Worker:
    request: wm.CreateWorkerRequest = call.body
    call.authorize()
    pool = await pool_or_404(call)
    provider = call.app[FLEET].providers.get(pool.provider_id)
    if provider is None or provider.starts_workers:
        raise input_error(f"createWorker is not supported for this provider ({pool.provider_id})")
    now = now_ms()
    expires = _expires(request.expires, now)
    if not isinstance(request.provider_info, wm.ProviderInfo):
        raise input_error("no worker staticSecret provided (providerInfo.staticSecret)")
    pool_id, group, worker_id = worker_key(call)
    row = WorkerRow(
        worker_pool_id=pool_id,
        worker_group=group,
        worker_id=worker_id,
        provider_id=provider.provider_id,
        launch_config_id=None,
        state=S.running,  # a static worker runs from its creation (Taskcluster)
        capacity=request.capacity,
        created_ms=now,
        expires_ms=expires,
        last_modified_ms=now,
        last_checked_ms=now,
        secret_hash=hash_secret(request.provider_info.static_secret),
        one_time=False,
    )
    return worker_response(await call.app[STORE].insert_worker(row))


@handles("removeWorker")
async def remove_worker(call: Call) -> wm.RemoveWorkerResponse:
    call.authorize()
    found = await worker_or_404(call)
    who = call.caller.client_id or "an anonymous caller"
    await call.app[FLEET].remove(found, f"removeWorker by {who}")
    call.app[PROVISIONER].wake()
    return wm.RemoveWorkerResponse()


@handles("shouldWorkerTerminate")
async def should_worker_terminate(call: Call) -> wm.ShouldWorkerTerminateResponse:
    call.authorize()
    found = await worker_or_404(call)
    if found.state in (S.stopping, S.stopped):
        return wm.ShouldWorkerTerminateResponse(terminate=True, reason="the worker was removed")
    return wm.ShouldWorkerTerminateResponse(
        terminate=found.terminate, reason=found.terminate_reason
    )
