"""What the provisioner's handlers share: pages, lookups (404s), and the response shapes."""

from __future__ import annotations

import time

from msgspec import UNSET

from clients.protocol import worker_manager as wm
from clients.protocol.errors import ApiError, ErrorCode, not_found
from clients.protocol.times import format_ms

from ..dispatch import Call
from ..keys import STORE
from ..store import ErrorRow, PoolRow, WorkerRow

__all__ = [
    "MAX_PAGE",
    "error_response",
    "next_token",
    "now_ms",
    "page",
    "pool_or_404",
    "pool_response",
    "worker_key",
    "worker_or_404",
    "worker_response",
]

MAX_PAGE = 1000
S = wm.WorkerState


def now_ms() -> int:
    return int(time.time() * 1000)


def page(call: Call) -> tuple[int, int]:
    """(offset, limit) from `continuationToken` (an opaque offset) and `limit`."""
    query = call.request.query
    limit_text, token = query.get("limit"), query.get("continuationToken")
    if limit_text is not None and not (limit_text.isdigit() and 1 <= int(limit_text) <= MAX_PAGE):
        raise ApiError(
            ErrorCode.invalid_request_arguments,
            f"`limit` must be a whole number from 1 to {MAX_PAGE}",
        )
    if token is not None and not token.isdigit():
        raise ApiError(ErrorCode.invalid_request_arguments, "`continuationToken` is not valid")
    return int(token or 0), int(limit_text or MAX_PAGE)


def next_token(offset: int, limit: int, got: int) -> str | None:
    return str(offset + got) if got == limit else None


async def pool_or_404(call: Call, pool_id: str | None = None) -> PoolRow:
    found = await call.app[STORE].get_pool(pool_id or call.params["workerPoolId"])
    if found is None:
        raise not_found(f"Worker Pool does not exist: {pool_id or call.params['workerPoolId']}")
    return found


def worker_key(call: Call) -> tuple[str, str, str]:
    p = call.params
    return p["workerPoolId"], p["workerGroup"], p["workerId"]


async def worker_or_404(call: Call, key: tuple[str, str, str] | None = None) -> WorkerRow:
    found = await call.app[STORE].get_worker(key or worker_key(call))
    if found is None:
        raise not_found("Worker not found")
    return found


async def pool_response(call: Call, pool: PoolRow) -> wm.WorkerPool:
    counts = await call.app[STORE].pool_counts(pool.worker_pool_id)

    def of(state: wm.WorkerState) -> tuple[int, int]:
        return counts.get(state, (0, 0))

    return wm.WorkerPool(
        worker_pool_id=pool.worker_pool_id,
        provider_id=pool.provider_id,
        description=pool.description,
        owner=pool.owner,
        email_on_error=pool.email_on_error,
        config=pool.config,
        created=format_ms(pool.created_ms),
        last_modified=format_ms(pool.last_modified_ms),
        current_capacity=of(S.requested)[1] + of(S.running)[1],
        requested_count=of(S.requested)[0],
        running_count=of(S.running)[0],
        stopping_count=of(S.stopping)[0],
        stopped_count=of(S.stopped)[0],
        requested_capacity=of(S.requested)[1],
        running_capacity=of(S.running)[1],
        stopping_capacity=of(S.stopping)[1],
        stopped_capacity=of(S.stopped)[1],
    )


def worker_response(worker: WorkerRow) -> wm.Worker:
    return wm.Worker(
        worker_pool_id=worker.worker_pool_id,
        worker_group=worker.worker_group,
        worker_id=worker.worker_id,
        provider_id=worker.provider_id,
        created=format_ms(worker.created_ms),
        expires=format_ms(worker.expires_ms),
        state=worker.state,
        capacity=worker.capacity,
        last_modified=format_ms(worker.last_modified_ms),
        last_checked=format_ms(worker.last_checked_ms),
        launch_config_id=worker.launch_config_id or UNSET,
    )


def error_response(error: ErrorRow) -> wm.WorkerPoolError:
    return wm.WorkerPoolError(
        worker_pool_id=error.worker_pool_id,
        error_id=error.error_id,
        reported=format_ms(error.reported_ms),
        kind=error.kind,
        title=error.title,
        description=error.description,
        extra=error.extra,
        launch_config_id=error.launch_config_id or UNSET,
    )
