"""registerWorker and reregisterWorker (protocol.md, "Worker registration").

A worker proves who it is with `workerIdentityProof: {staticSecret}`: the secret of a static
worker (createWorker), or the one-time secret its provider handed a launched worker, which the
registration consumes. It gets named temporary credentials until the reregistration deadline,
its workerConfig and a new secret for reregisterWorker. Every failed proof is the same 400, so
a caller learns nothing about which part was wrong.
"""

from __future__ import annotations

import hmac
from dataclasses import replace
from typing import Any

from clients.protocol import worker_manager as wm
from clients.protocol.errors import input_error, not_found
from clients.protocol.pool_config import DEFAULT_REREGISTRATION_S
from clients.protocol.times import format_ms

from ..core.credentials import mint_worker_credentials
from ..core.pools import decode_config, launchables, worker_config
from ..dispatch import Call, handles
from ..fleet import hash_secret, new_secret
from ..keys import FLEET, SETTINGS, STORE
from ..providers.base import Provider
from ..store import PoolRow, WorkerRow
from .common import now_ms, pool_or_404, worker_or_404

__all__: list[str] = []

S = wm.WorkerState
DAY_MS = 86_400_000


def _matches(secret: object, expected_hash: str | None) -> bool:
    if not isinstance(secret, str) or expected_hash is None:
        return False
    return hmac.compare_digest(hash_secret(secret), expected_hash)


def _reregistration_ms(pool: PoolRow, provider: Provider) -> int:
    try:
        config = decode_config(provider.provider_type, pool.config)
    except Exception:  # a deleted pool's config may be anything
        return DEFAULT_REREGISTRATION_S * 1000
    return config.lifecycle.reregistration_timeout * 1000


def _registered(worker: WorkerRow, expires: int, secret: str, now: int) -> WorkerRow:
    lifetime = (
        worker.expires_ms if not worker.one_time else max(worker.expires_ms, expires + DAY_MS)
    )
    return replace(
        worker,
        state=S.running,
        registered_ms=now,
        credentials_expire_ms=expires,
        reregister_hash=hash_secret(secret),
        secret_hash=None if worker.one_time else worker.secret_hash,
        expires_ms=lifetime,
        last_modified_ms=now if worker.state != S.running else worker.last_modified_ms,
    )


async def _check_registration(
    call: Call, request: wm.RegisterWorkerRequest
) -> tuple[PoolRow, Provider, WorkerRow]:
    """Taskcluster's checks, in its order: pool, provider, worker, expiry, proof, state."""
    pool = await pool_or_404(call, request.worker_pool_id)
    provider = call.app[FLEET].providers.get(request.provider_id)
    if provider is None:
        raise not_found(f"Provider {request.provider_id} does not exist")
    if request.provider_id not in (pool.provider_id, *pool.previous_provider_ids):
        raise input_error(f"Worker pool {pool.worker_pool_id} is not associated with this provider")
    key = (request.worker_pool_id, request.worker_group, request.worker_id)
    found = await worker_or_404(call, key)
    now = now_ms()
    if found.expires_ms < now:
        raise input_error("worker has expired")
    if found.provider_id != request.provider_id:
        raise input_error("the worker belongs to another provider")
    proof = request.worker_identity_proof.get("staticSecret")
    if not _matches(proof, found.secret_hash):
        raise input_error("bad staticSecret in workerIdentityProof")
    if found.state != (S.requested if found.one_time else S.running):
        raise input_error(f"the worker is {found.state.value}: it cannot register")
    return pool, provider, found


@handles("registerWorker")
async def register_worker(call: Call) -> wm.RegisterWorkerResponse:
    call.authorize()  # no scopes: the identity proof authenticates (checked below)
    request: wm.RegisterWorkerRequest = call.body
    pool, provider, found = await _check_registration(call, request)
    now = now_ms()
    expires = now + _reregistration_ms(pool, provider)
    secret = new_secret()
    updated = _registered(found, expires, secret, now)

    def unchanged(row: WorkerRow) -> bool:  # a one-time secret is used once, even in a race
        return row.state == found.state and row.secret_hash == found.secret_hash

    if not await call.app[STORE].save_worker(updated, unchanged, registered=True):
        raise input_error("bad staticSecret in workerIdentityProof")
    return wm.RegisterWorkerResponse(
        expires=format_ms(expires),
        credentials=mint_worker_credentials(
            call.app[SETTINGS].credentials, found.provider_id, found.key, now, expires
        ),
        worker_config=_worker_config(pool, provider, found),
        secret=secret,
    )


def _worker_config(pool: PoolRow, provider: Provider, worker: WorkerRow) -> dict[str, Any]:
    """The pool's workerConfig for this worker (none once the pool moved to another provider)."""
    if pool.provider_id != provider.provider_id:
        return {}
    config = decode_config(provider.provider_type, pool.config)
    launchable = next(
        (i for i in launchables(pool.worker_pool_id, config)
         if i.launch_config_id == worker.launch_config_id),
        None,
    )  # fmt: skip
    return worker_config(config, launchable, worker.capacity)


@handles("reregisterWorker")
async def reregister_worker(call: Call) -> wm.ReregisterWorkerResponse:
    request: wm.ReregisterWorkerRequest = call.body
    call.authorize(
        workerPoolId=request.worker_pool_id,
        workerGroup=request.worker_group,
        workerId=request.worker_id,
    )
    refused = input_error("Could not generate credentials for this secret")
    key = (request.worker_pool_id, request.worker_group, request.worker_id)
    found = await call.app[STORE].get_worker(key)
    now = now_ms()
    if found is None or found.state != S.running or found.expires_ms < now:
        raise refused
    if not _matches(request.secret, found.reregister_hash):
        raise refused
    pool = await call.app[STORE].get_pool(request.worker_pool_id)
    provider = call.app[FLEET].providers.get(found.provider_id)
    if pool is None or provider is None:
        raise refused
    expires = now + _reregistration_ms(pool, provider)
    secret = new_secret()
    updated = _registered(found, expires, secret, now)
    if not await call.app[STORE].save_worker(
        updated, lambda row: row.state == S.running and row.reregister_hash == found.reregister_hash
    ):
        raise refused
    return wm.ReregisterWorkerResponse(
        expires=format_ms(expires),
        credentials=mint_worker_credentials(
            call.app[SETTINGS].credentials, found.provider_id, found.key, now, expires
        ),
        secret=secret,
    )
