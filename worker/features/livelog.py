"""The live log (protocol.md §18.1; reference 5.4): viewers follow the task log as it is written.

At the start the run's log is registered with the worker's live service and
`public/logs/live.log` (the payload's `log` name on Docker) is created as a `reference`
artifact to its stream: the worker's own URL when it advertises one, else the queue's relay.
After the task log is uploaded as `public/logs/live_backing.log`, the reference is replaced by
a `link` to it, so the one URL shows the whole log during and after the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from clients.client import ClientError
from clients.protocol.artifacts import LinkArtifactRequest, ReferenceArtifactRequest
from clients.protocol.livelog import BACKING_LOG, LOG_CONTENT_TYPE
from clients.protocol.times import format_ms, parse_time

from ..livelog import LiveRun

if TYPE_CHECKING:
    from ..run import Run

__all__ = ["LiveLog", "live_expiry", "live_run"]

logger = logging.getLogger("infrax.worker.livelog")
AFTER_RUN_MS = 900_000  # generic-worker: a live reference expires 15 min after the run could


def live_expiry(now_ms: int, run_for_s: int, task_expires: str) -> str:
    """now + what the run may last + 15 min, never after the task expires (pure)."""
    return format_ms(min(now_ms + run_for_s * 1000 + AFTER_RUN_MS, parse_time(task_expires)))


def live_run(run: Run) -> LiveRun:
    """The run's registration with the worker's live service, made on first use; it ends
    in the run's epilogue."""
    if run.live is None:
        live = LiveRun(run.task_id, run.run_id, run.log)
        run.live = live
        run.context.live.register(live)
        run.epilogue.callback(run.context.live.unregister, live)
    return run.live


class LiveLog:
    name = "liveLog"

    def is_requested(self, run: Run) -> bool:
        return run.job is not None and run.job.live_log

    @asynccontextmanager
    async def enter(self, run: Run) -> AsyncIterator[None]:
        assert run.job is not None
        live = live_run(run)
        url = run.context.live_urls.log(run.task_id, run.run_id, live.log_secret)
        if url is not None:
            await self._reference(run, url)
            run.epilogue.push_async_callback(self._link, run)
        yield

    async def _reference(self, run: Run, url: str) -> None:
        assert run.job is not None
        run_for = run.job.max_run_time_s + run.job.keep_alive_on_failure_s
        request = ReferenceArtifactRequest(
            expires=live_expiry(int(time.time() * 1000), run_for, run.task.expires),
            url=url,
            content_type=LOG_CONTENT_TYPE,
        )
        try:
            await run.queue.create_artifact(run.task_id, run.run_id, run.job.live_log_name, request)
        except ClientError as error:  # the task runs without a live view; its log is kept
            run.log.line(f"the live log could not be published: {error}")

    async def _link(self, run: Run) -> None:
        """live.log becomes a link to the uploaded backing log (whatever the ending: the task
        log is uploaded for every run)."""
        if not run.log_uploaded or run.job is None:
            return
        request = LinkArtifactRequest(
            expires=run.task.expires, artifact=BACKING_LOG, content_type=LOG_CONTENT_TYPE
        )
        try:
            await run.queue.create_artifact(run.task_id, run.run_id, run.job.live_log_name, request)
        except ClientError as error:
            logger.error(
                "live_log_link_failed",
                extra={"task_id": run.task_id, "run_id": run.run_id, "reason": str(error)},
            )
