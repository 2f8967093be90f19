"""Background resolvers: claim expiry, deadlines and expiry sweeping (protocol.md)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from ..artifacts.blobs import BlobStore
from ..keys import BLOBS, SETTINGS, STORE
from ..store.base import Store

__all__ = ["BATCH", "resolve_due", "resolvers", "sweep_artifacts", "sweep_expired"]

log = logging.getLogger("infrax.queue.resolvers")
BATCH = 500


async def resolve_due(store: Store, now_ms: int | None = None) -> int:
    """Resolve expired claims and passed deadlines until none is left; how many were."""
    total = 0
    while True:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        done = await store.resolve_due(now, BATCH)
        total += done
        if done < BATCH:
            return total


async def sweep_expired(store: Store, now_ms: int | None = None) -> int:
    total = 0
    while True:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        done = await store.expire(now, BATCH)
        total += done
        if done < BATCH:
            return total


async def sweep_artifacts(store: Store, blobs: BlobStore, now_ms: int | None = None) -> int:
    """Delete expired artifacts and objects and abandoned uploads, then every blob due for
    deletion (protocol.md, "Expiry"); how many artifacts and objects went."""
    total = 0
    now = int(time.time() * 1000) if now_ms is None else now_ms
    while done := await store.expire_artifacts(now, BATCH):
        total += done
    while True:
        keys = await store.due_blobs(now, BATCH)
        for key in keys:
            await blobs.delete(key)
        await store.forget_blobs(keys)
        if len(keys) < BATCH:
            return total


async def _sweep(store: Store, blobs: BlobStore) -> int:
    return await sweep_expired(store) + await sweep_artifacts(store, blobs)


async def _every(interval_s: float, work: Callable[[], Awaitable[int]], name: str) -> None:
    while True:
        try:
            await work()
        except Exception:
            log.exception(
                "resolver pass failed", extra={"event": "resolver_failed", "resolver": name}
            )
        await asyncio.sleep(interval_s)


async def resolvers(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: run the resolver loops while the app runs."""
    settings, store = app[SETTINGS], app[STORE]
    loops = [
        asyncio.create_task(
            _every(settings.resolver_interval_s, lambda: resolve_due(store), "due")
        ),
        asyncio.create_task(
            _every(settings.expiry_interval_s, lambda: _sweep(store, app[BLOBS]), "expiry")
        ),
    ]
    yield
    for loop in loops:
        loop.cancel()
    await asyncio.gather(*loops, return_exceptions=True)
