"""Caches (docker-worker `cache`): named Docker volumes that outlive the task.

A task may mount cache `<name>` only with the scope `docker-worker:cache:<name>` (checked with
the payload). Two tasks running at once never share a cache: each gets an instance not in use
(volume `<prefix>-<name>-<n>`, the lowest free n), so a task running alone always finds the
instance the previous one left. When the exit code is listed in `onExitStatus.purgeCaches`,
the instances the task used are deleted after its container.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..run import Run

__all__ = ["CachePool", "Caches", "volume_name"]

_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def volume_name(prefix: str, cache: str, instance: int) -> str:
    """A Docker volume name for a cache instance (pure); unsafe characters are replaced and
    a digest keeps distinct names distinct."""
    safe = _UNSAFE.sub("_", cache)[:64]
    if safe != cache:
        safe += "-" + hashlib.sha256(cache.encode()).hexdigest()[:8]
    return f"{prefix}-{safe}-{instance}"


class CachePool:
    """The cache instances in use by this worker's running tasks."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._in_use: set[str] = set()

    def acquire(self, cache: str) -> str:
        instance = 0
        while volume_name(self.prefix, cache, instance) in self._in_use:
            instance += 1
        name = volume_name(self.prefix, cache, instance)
        self._in_use.add(name)
        return name

    def release(self, volume: str) -> None:
        self._in_use.discard(volume)


class Caches:
    name = "caches"

    def is_requested(self, run: Run) -> bool:
        return bool(run.job and run.job.caches)

    @asynccontextmanager
    async def enter(self, run: Run) -> AsyncIterator[None]:
        assert run.job is not None and run.job.caches
        pool = run.context.caches
        taken = {cache: pool.acquire(cache) for cache in sorted(run.job.caches)}
        for cache, volume in taken.items():
            run.volumes[volume] = run.job.caches[cache]
            run.log.line(f"cache {cache} mounted at {run.job.caches[cache]} (volume {volume})")
        try:
            yield
        finally:
            purge = run.exit_code is not None and run.exit_code in run.job.purge_codes
            try:
                for cache, volume in taken.items():
                    if purge:
                        await run.engine.remove_volume(volume)
                        run.log.line(f"cache {cache} purged (exit code {run.exit_code})")
            finally:
                for volume in taken.values():
                    pool.release(volume)
