"""Handlers of worker pools (protocol.md, "Worker-manager"): create, update, delete, read."""

from __future__ import annotations

from msgspec import UNSET

from clients.protocol import worker_manager as wm
from clients.protocol.errors import input_error, not_found

from ..core.pools import NULL_PROVIDER, decode_config
from ..dispatch import Call, handles
from ..keys import FLEET, PROVISIONER, STORE
from ..store import PoolRow
from .common import error_response, next_token, now_ms, page, pool_or_404, pool_response

__all__ = ["pool_row"]


def pool_row(call: Call, pool_id: str, request: wm.CreateWorkerPoolRequest) -> PoolRow:
    """The pool the request asks for, its provider known and its config fitting it (400)."""
    provider_id = request.provider_id
    if provider_id != NULL_PROVIDER:
        provider = call.app[FLEET].providers.get(provider_id)
        if provider is None:
            raise input_error(f"Invalid Provider: {provider_id!r} is not a provider here")
        decode_config(provider.provider_type, request.config)
    now = now_ms()
    return PoolRow(
        worker_pool_id=pool_id,
        provider_id=provider_id,
        description=request.description,
        owner=request.owner,
        email_on_error=request.email_on_error,
        config=request.config,
        created_ms=now,
        last_modified_ms=now,
    )


@handles("listProviders")
async def list_providers(call: Call) -> wm.ListProvidersResponse:
    call.authorize()
    offset, limit = page(call)
    providers = list(call.app[FLEET].providers.values())[offset : offset + limit]
    token = next_token(offset, limit, len(providers))
    return wm.ListProvidersResponse(
        providers=[
            wm.ProviderSummary(provider_id=p.provider_id, provider_type=p.provider_type)
            for p in providers
        ],
        continuation_token=token or UNSET,
    )


@handles("createWorkerPool")
async def create_worker_pool(call: Call) -> wm.WorkerPool:
    request: wm.CreateWorkerPoolRequest = call.body
    call.authorize(providerId=request.provider_id)
    if request.provider_id == NULL_PROVIDER:
        raise input_error("a new pool cannot have the null-provider")
    row = pool_row(call, call.params["workerPoolId"], request)
    created = await call.app[STORE].create_pool(row)
    call.app[PROVISIONER].wake()
    return await pool_response(call, created)


@handles("updateWorkerPool")
async def update_worker_pool(call: Call) -> wm.WorkerPool:
    request: wm.UpdateWorkerPoolRequest = call.body
    pool_id = call.params["workerPoolId"]
    if request.worker_pool_id is not UNSET and request.worker_pool_id != pool_id:
        raise input_error("workerPoolId in the body does not match the URL")
    call.authorize(providerId=request.provider_id)
    await pool_or_404(call)
    updated = await call.app[STORE].update_pool(pool_row(call, pool_id, request))
    if updated is None:
        raise not_found(f"Worker Pool does not exist: {pool_id}")
    call.app[PROVISIONER].wake()
    return await pool_response(call, updated)


@handles("deleteWorkerPool")
async def delete_worker_pool(call: Call) -> wm.WorkerPool:
    call.authorize()
    pool = await pool_or_404(call)
    request = wm.CreateWorkerPoolRequest(
        provider_id=NULL_PROVIDER,
        description=pool.description,
        config=pool.config,
        owner=pool.owner,
        email_on_error=pool.email_on_error,
    )
    updated = await call.app[STORE].update_pool(pool_row(call, pool.worker_pool_id, request))
    call.app[PROVISIONER].wake()
    return await pool_response(call, updated or pool)


@handles("workerPool")
async def worker_pool(call: Call) -> wm.WorkerPool:
    call.authorize()
    return await pool_response(call, await pool_or_404(call))


@handles("listWorkerPools")
async def list_worker_pools(call: Call) -> wm.ListWorkerPoolsResponse:
    call.authorize()
    offset, limit = page(call)
    pools = await call.app[STORE].list_pools(offset, limit)
    token = next_token(offset, limit, len(pools))
    return wm.ListWorkerPoolsResponse(
        worker_pools=[await pool_response(call, pool) for pool in pools],
        continuation_token=token or UNSET,
    )


@handles("listWorkerPoolErrors")
async def list_worker_pool_errors(call: Call) -> wm.ListWorkerPoolErrorsResponse:
    call.authorize()
    offset, limit = page(call)
    pool = await pool_or_404(call)
    errors = await call.app[STORE].list_errors(pool.worker_pool_id, offset, limit)
    token = next_token(offset, limit, len(errors))
    return wm.ListWorkerPoolErrorsResponse(
        worker_pool_errors=[error_response(error) for error in errors],
        continuation_token=token or UNSET,
    )
