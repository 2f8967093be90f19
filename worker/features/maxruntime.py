"""maxRunTime: the run is killed when it has run that long, and reported failed with a clear
line in the log (generic-worker's "task aborted - max run time exceeded")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ..results import Abort

if TYPE_CHECKING:
    from ..run import Run

__all__ = ["MaxRunTime"]


class MaxRunTime:
    name = "maxRunTime"

    def is_requested(self, run: Run) -> bool:
        return run.job is not None

    @asynccontextmanager
    async def enter(self, run: Run) -> AsyncIterator[None]:
        assert run.job is not None
        limit = run.job.max_run_time_s
        timer = asyncio.get_running_loop().call_later(
            limit,
            run.abort,
            Abort.max_run_time,
            f"task aborted - max run time exceeded ({limit} s)",
        )
        try:
            yield
        finally:
            timer.cancel()
