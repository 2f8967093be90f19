"""One task run, from the claim to the report (ARCHITECTURE.md, "The life of a task", step 6).

The payload is decoded into a Job, then the features it needs are entered in order on an
AsyncExitStack (features/): caches, the engine's execution, artifacts, dockerSave, resource
monitoring, max run time. The body waits for the exit code; leaving the stack runs each
feature's end in reverse (resources, artifacts, the container's removal, cache purges), also
when a later one failed. Then the ending is mapped to a report (results.py), the task log is
uploaded (always, whatever happened), and the run is reported with its own temporary
credentials, never the worker's.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TypeVar

from clients.client import ClientError, Queue, RequestConflict, credentials_of
from clients.protocol.scopes import satisfies
from clients.protocol.tasks import TaskClaim
from clients.protocol.times import parse_time

from .engines.base import Engine, Execution, Limits
from .errors import MalformedPayload, TaskError
from .features import FEATURES
from .features.caches import CachePool
from .livelog import LiveRun, LiveService, LiveUrls
from .payload import Job, decode_job, required_scopes
from .reclaim import keep_claim, watch_status
from .results import RESOLUTIONS, Abort, Ending, Resolution, ending_of
from .settings import Settings
from .tasklog import TaskLog
from .uploads import Uploads, uploads_for

__all__ = ["Run", "RunAbortedError", "WorkerContext", "run_claim"]

logger = logging.getLogger("infrax.worker.run")
_T = TypeVar("_T")


@dataclass
class WorkerContext:
    """What every run of one worker shares."""

    settings: Settings
    engine: Engine
    queue: Queue  # with the worker's own credentials: claimWork and the worker record only
    limits: Limits
    caches: CachePool
    active: dict[tuple[str, int], Run] = field(default_factory=dict)
    live: LiveService = field(default_factory=LiveService)
    live_urls: LiveUrls = field(default_factory=LiveUrls)
    events_connected: bool = False  # cancels.py follows the event stream


class RunAbortedError(Exception):
    """The run was stopped before its commands started (during an image pull, say)."""


class Run:
    def __init__(self, claim: TaskClaim, context: WorkerContext) -> None:
        self.context = context
        self.task = claim.task
        self.task_id = claim.status.task_id
        self.run_id = claim.run_id
        self.queue = context.queue.with_credentials(credentials_of(claim.credentials))
        self.taken_until_s = parse_time(claim.taken_until) / 1000
        self.name = f"infrax-{self.task_id}-{self.run_id}"
        self.dir = context.settings.work_dir / "runs" / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.staging = self.dir / "staging"
        self.log = TaskLog(self.dir / "live_backing.log")
        self.uploads: Uploads = uploads_for(self)
        self.job: Job | None = None
        self.execution: Execution | None = None
        self.volumes: dict[str, str] = {}
        self.exit_code: int | None = None
        self.artifacts_missing = False
        self.abort_reason: Abort | None = None
        self.reporting = False  # from here on, the queue's news about the run is our own
        self.resolution: Resolution | None = None  # what is to be reported, once decided
        self._aborted = asyncio.Event()
        self.live: LiveRun | None = None  # features/livelog.py
        # Steps after the task log is uploaded and before the report: live.log becomes a link.
        self.epilogue = AsyncExitStack()
        self.log_uploaded = False

    @property
    def engine(self) -> Engine:
        return self.context.engine

    @property
    def settings(self) -> Settings:
        return self.context.settings

    @property
    def aborted(self) -> asyncio.Event:
        return self._aborted

    @property
    def uploads_wanted(self) -> bool:
        """Whether artifacts are still worth uploading: not for a run that is not ours any
        more, nor for one the worker abandons to a retry elsewhere."""
        return self.abort_reason not in (Abort.canceled, Abort.worker_shutdown)

    def abort(self, reason: Abort, message: str) -> None:
        """Stop the run from outside its commands; the first reason wins."""
        if self.abort_reason is not None:
            return
        self.abort_reason = reason
        self.log.line(message)
        logger.info(
            "run_aborted",
            extra={"task_id": self.task_id, "run_id": self.run_id, "reason": reason.value},
        )
        self._aborted.set()

    async def until_aborted(self, work: Awaitable[_T]) -> _T:
        """`work`, unless the run is aborted first: then it is cancelled (RunAbortedError)."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._aborted.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not task.done():
            task.cancel()
            raise RunAbortedError()
        return task.result()

    async def wait_for_exit(self) -> int:
        """The exit code; an abort kills the execution first (and is then recorded)."""
        assert self.execution is not None
        waiting = asyncio.ensure_future(self.execution.wait())
        stop = asyncio.ensure_future(self._aborted.wait())
        try:
            await asyncio.wait({waiting, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not waiting.done():
                await self.execution.kill()
            return await waiting
        finally:
            stop.cancel()


async def run_claim(claim: TaskClaim, context: WorkerContext) -> Resolution:
    """Run one claimed task to its report; what was reported (report None: nothing)."""
    run = Run(claim, context)
    context.active[run.task_id, run.run_id] = run
    watchers = [
        asyncio.create_task(keep_claim(run)),
        asyncio.create_task(watch_status(run, context.settings.cancel_check_s)),
    ]
    try:
        ending = await _ending(run)
        for watcher in watchers:
            watcher.cancel()
        return await _finish(run, ending)
    finally:
        for watcher in watchers:
            watcher.cancel()
        run.log.close()
        await run.epilogue.aclose()
        context.active.pop((run.task_id, run.run_id), None)
        await asyncio.to_thread(shutil.rmtree, run.dir, True)


def _header(run: Run) -> str:
    settings = run.settings
    return (
        f"task {run.task_id} run {run.run_id} on {settings.worker_group}/{settings.worker_id}"
        f" ({settings.task_queue_id}, {run.engine.kind} engine)"
    )


async def _ending(run: Run) -> Ending:
    run.log.line(_header(run))
    try:
        run.job = _job(run)
        async with AsyncExitStack() as stack:
            for feature in FEATURES:
                if feature.is_requested(run):
                    await stack.enter_async_context(feature.enter(run))
            run.exit_code = await run.wait_for_exit()
    except RunAbortedError:
        pass
    except TaskError as error:
        run.log.line(str(error))
        if run.abort_reason is None:
            return error.ending
    except Exception:
        logger.exception("run_failed", extra={"task_id": run.task_id, "run_id": run.run_id})
        run.log.line("the worker failed while running this task (internal error)")
        return Ending.internal_error
    retry_codes = run.job.retry_codes if run.job else frozenset[int]()
    return ending_of(run.exit_code, run.abort_reason, retry_codes, run.artifacts_missing)


def _job(run: Run) -> Job:
    job = decode_job(run.engine.kind, run.task.payload, run.settings.max_task_run_time_s)
    missing = [s for s in required_scopes(job, run.task.task_queue_id) if not _held(run, s)]
    if missing:
        raise MalformedPayload(f"the task lacks the scopes {', '.join(missing)}")
    if job.privileged and not run.settings.allow_privileged:
        raise MalformedPayload("this worker does not run privileged containers")
    if job.keep_alive_on_failure_s > run.settings.max_keep_alive_s:
        raise MalformedPayload(
            f"the payload is invalid: features.keepAliveOnFailure {job.keep_alive_on_failure_s} s"
            f" is more than this worker allows ({run.settings.max_keep_alive_s} s)"
        )
    return job


def _held(run: Run, scope: str) -> bool:
    return satisfies(run.task.scopes, scope)


async def _finish(run: Run, ending: Ending) -> Resolution:
    run.reporting = True
    resolution = run.resolution = RESOLUTIONS[ending]
    exit_text = f" (exit code {run.exit_code})" if run.exit_code is not None else ""
    run.log.line(f"result: {resolution.describe()}{exit_text}")
    run.log_uploaded = await run.uploads.task_log(run.log)
    if not run.log_uploaded and resolution.report in ("completed", "failed"):
        resolution = run.resolution = RESOLUTIONS[Ending.resource_unavailable]
    await run.epilogue.aclose()
    await _report(run, resolution)
    return resolution


async def _report(run: Run, resolution: Resolution) -> None:
    queue, task_id, run_id = run.queue, run.task_id, run.run_id
    try:
        if resolution.report == "completed":
            await queue.report_completed(task_id, run_id)
        elif resolution.report == "failed":
            await queue.report_failed(task_id, run_id)
        elif resolution.report == "exception" and resolution.reason is not None:
            await queue.report_exception(task_id, run_id, resolution.reason)
    except RequestConflict:
        logger.info("report_conflict", extra={"task_id": task_id, "run_id": run_id})
    except ClientError as error:
        logger.error(
            "report_failed", extra={"task_id": task_id, "run_id": run_id, "reason": str(error)}
        )
