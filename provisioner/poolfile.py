"""Pools loaded from a file at start (protocol.md, "Pools file").

Each pool of the file is created, or updated when its definition changed; pools not in the
file are left alone. A file that does not parse, names an unknown provider or holds a config
its provider refuses stops the provisioner before it serves anything.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from pathlib import Path

from clients.protocol.errors import ApiError
from clients.protocol.pool_config import PoolFileError, parse_pools_file

from .core.pools import decode_config
from .providers.base import Provider
from .store import PoolRow, PoolStore

__all__ = ["PoolFileUnusableError", "load_pools_file"]

log = logging.getLogger("infrax.provisioner")


class PoolFileUnusableError(Exception):
    """The pools file cannot be used; the message says why."""


async def load_pools_file(
    path: Path, store: PoolStore, providers: Mapping[str, Provider]
) -> list[str]:
    """Create or update the file's pools; their ids."""
    try:
        entries = parse_pools_file(await asyncio.to_thread(path.read_text))
    except (OSError, PoolFileError) as error:
        raise PoolFileUnusableError(f"pools file {path}: {error}") from None
    now = int(time.time() * 1000)
    rows = []
    for pool_id, entry in entries.items():
        provider = providers.get(entry.provider_id)
        if provider is None:
            raise PoolFileUnusableError(
                f"pools file {path}: {pool_id}: no provider {entry.provider_id!r}"
            )
        try:
            decode_config(provider.provider_type, entry.config)
        except ApiError as error:
            raise PoolFileUnusableError(f"pools file {path}: {pool_id}: {error.message}") from None
        rows.append(
            PoolRow(pool_id, entry.provider_id, entry.description, entry.owner,
                    entry.email_on_error, entry.config, now, now)
        )  # fmt: skip
    for row in rows:
        found = await store.get_pool(row.worker_pool_id)
        if found is None:
            await store.create_pool(row)
        elif not found.same_definition(row):
            await store.update_pool(row)
        log.info("pool_loaded", extra={"reason": row.worker_pool_id})
    return [row.worker_pool_id for row in rows]
