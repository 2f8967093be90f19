"""The worker daemon: claim work under a capacity limit, run it, drain on a signal.

- It claims at most its free capacity per claimWork call; the call long-polls, so work is
  taken the instant it exists. An empty answer is followed by a short pause; an error by a
  jittered exponential backoff, so the daemon keeps running through queue restarts.
- A stop (SIGTERM or SIGINT, `request_stop`) ends claiming at once: a claimWork in flight gets
  two seconds to answer (claims it brings are run and drained like the others), then it is
  abandoned and the queue gives back whatever it claims for it (protocol.md §4.8). Running
  tasks get `shutdown_grace_s` to finish; the rest are stopped and reported
  exception/worker-shutdown, which the queue retries at once. A second signal skips the
  grace. Their last steps (task log upload, report, each retried with backoff) then get
  `shutdown_report_s`: a queue that is gone cannot hold the stop forever. A run still
  unreported then is logged (`report_abandoned`) and left to the queue, which resolves it
  exception/claim-expired when its claim lapses. The daemon exits 0, or 1 when it gave up a
  run that way.
- With `idle_timeout_s` set it also exits after that long without a task.
- A quarantined worker claims nothing until its quarantine ends.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from clients.client import ClientError, ResourceNotFound
from clients.protocol.ids import split_task_queue_id
from clients.protocol.tasks import TaskClaim
from clients.protocol.times import format_ms, parse_time

from .backoff import backoff_s
from .cancels import follow_cancels
from .results import Abort, unreported
from .run import WorkerContext, run_claim

if TYPE_CHECKING:
    from .relay import RelayLink

__all__ = ["Daemon"]

logger = logging.getLogger("infrax.worker.daemon")
_T = TypeVar("_T")

# On a stop, a claimWork in flight gets this long to answer: one that found work answers at
# once, and abandoning its answer would lose the claims until they expire. One still waiting
# for work is then abandoned, and the queue unclaims what it claims as the call goes away.
CLAIM_FINISH_S = 2.0


class _StoppedError(Exception):
    """The daemon was asked to stop while it waited."""


class Daemon:
    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self.settings = context.settings
        self.stopping = asyncio.Event()
        self.hurry = asyncio.Event()  # a second signal: no grace
        self.claimed = 0
        self._runs: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        self._quarantine_checked = -math.inf
        self._idle_since = time.monotonic()
        self.relay: RelayLink | None = None  # the relay connection, when kept
        self.abandoned = 0  # runs given up unreported while stopping

    def request_stop(self) -> None:
        if self.stopping.is_set():
            self.hurry.set()
        self.stopping.set()

    async def run(self) -> int:
        """Claim and run until stopped or idle; then drain. The process exit code."""
        self._idle_since = time.monotonic()
        failures = 0
        follower = asyncio.create_task(follow_cancels(self.context))
        try:
            while not self.stopping.is_set():
                left = self._idle_for()
                if left is not None and left <= 0:
                    logger.info("idle_exit", extra={"reason": "no work"})
                    break
                try:
                    failures = await self._step(failures)
                except _StoppedError:
                    break
        finally:
            await self._drain()
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        return 1 if self.abandoned else 0

    def _idle_for(self) -> float | None:
        """Seconds left before an idle exit, or None when idle exit is off or work runs."""
        if self.settings.idle_timeout_s <= 0 or self._runs:
            return None
        return self.settings.idle_timeout_s - (time.monotonic() - self._idle_since)

    async def _step(self, failures: int) -> int:
        free = self.settings.capacity - len(self._runs)
        if free <= 0:
            self._slot_freed.clear()
            await self._until(self._slot_freed.wait())
            return failures
        if await self._quarantined():
            return failures
        try:
            claims = await self._until(self._claim(free), self._idle_for(), CLAIM_FINISH_S)
        except TimeoutError:
            return failures
        except ClientError as error:
            pause = backoff_s(failures + 1, random.random())
            logger.warning("claim_failed", extra={"reason": f"{error}; retrying in {pause:.1f} s"})
            await self._pause(pause)
            return failures + 1
        for claim in claims:
            self._start(claim)
        if not claims:
            await self._pause(self.settings.empty_poll_pause_s)
        return 0

    async def _claim(self, free: int) -> list[TaskClaim]:
        answer = await self.context.queue.claim_work(
            self.settings.task_queue_id,
            worker_group=self.settings.worker_group,
            worker_id=self.settings.worker_id,
            tasks=min(free, 32),
        )
        return answer.tasks

    def _start(self, claim: TaskClaim) -> None:
        self.claimed += 1
        logger.info("claimed", extra={"task_id": claim.status.task_id, "run_id": claim.run_id})
        task = asyncio.create_task(self._run_one(claim))
        self._runs.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._runs.discard(task)
        self._idle_since = time.monotonic()
        self._slot_freed.set()

    async def _run_one(self, claim: TaskClaim) -> None:
        task_id, run_id = claim.status.task_id, claim.run_id
        try:
            resolution = await run_claim(claim, self.context)
        except Exception:
            logger.exception("run_crashed", extra={"task_id": task_id, "run_id": run_id})
            return
        logger.info(
            "resolved",
            extra={"task_id": task_id, "run_id": run_id, "reason": resolution.describe()},
        )

    async def _quarantined(self) -> bool:
        """Whether the queue has this worker in quarantine (checked every quarantine_check_s)."""
        now = time.monotonic()
        if now - self._quarantine_checked < self.settings.quarantine_check_s:
            return False
        self._quarantine_checked = now
        provisioner_id, worker_type = split_task_queue_id(self.settings.task_queue_id) or ("", "")
        try:
            worker = await self.context.queue.get_worker(
                provisioner_id, worker_type, self.settings.worker_group, self.settings.worker_id
            )
        except ResourceNotFound:
            return False
        except ClientError:
            return False  # claimWork will find out whether the queue answers
        until = worker.quarantine_until
        if not isinstance(until, str) or parse_time(until) / 1000 <= time.time():
            return False
        left = parse_time(until) / 1000 - time.time()
        logger.warning("quarantined", extra={"reason": f"until {until}"})
        self._quarantine_checked = -math.inf  # look again when the pause ends
        await self._pause(min(left, self.settings.quarantine_check_s))
        return True

    async def _pause(self, seconds: float) -> None:
        try:
            await self._until(asyncio.sleep(seconds))
        except _StoppedError:
            return

    async def _until(
        self, work: Awaitable[_T], timeout_s: float | None = None, finish_s: float = 0.0
    ) -> _T:
        """`work`, unless a stop comes first (_StoppedError) or `timeout_s` passes
        (TimeoutError). After a stop, `work` still gets `finish_s` to complete."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            done, _ = await asyncio.wait(
                {task, stop}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
            if task not in done and stop in done and finish_s > 0:
                done, _ = await asyncio.wait({task}, timeout=finish_s)
        finally:
            stop.cancel()
        if task in done:
            return task.result()
        task.cancel()
        raise _StoppedError() if self.stopping.is_set() else TimeoutError()

    async def _drain(self) -> None:
        """Give running tasks the grace period, then stop them as worker-shutdown."""
        if not self._runs:
            return
        grace = 0.0 if self.hurry.is_set() else self.settings.shutdown_grace_s
        logger.info("draining", extra={"reason": f"{len(self._runs)} running, {grace:.0f} s grace"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        runs = set(self._runs)
        hurry = asyncio.ensure_future(self.hurry.wait())
        try:
            while (pending := {t for t in runs if not t.done()}) and not hurry.done():
                if (left := deadline - loop.time()) <= 0:
                    break
                await asyncio.wait({*pending, hurry}, timeout=left, return_when="FIRST_COMPLETED")
        finally:
            hurry.cancel()
        for run in list(self.context.active.values()):
            run.abort(Abort.worker_shutdown, "the worker is shutting down: stopping this task")
        await self._wind_down(runs)

    async def _wind_down(self, runs: set[asyncio.Task[None]]) -> None:
        """The stopped runs' last uploads and reports get `shutdown_report_s`; the runs still
        unfinished then are logged and cancelled, and their claims left to lapse."""
        _, late = await asyncio.wait(runs, timeout=self.settings.shutdown_report_s)
        if late:
            for run in list(self.context.active.values()):
                taken_until = format_ms(int(run.taken_until_s * 1000))
                logger.error(
                    "report_abandoned",
                    extra={
                        "task_id": run.task_id,
                        "run_id": run.run_id,
                        "reason": unreported(run.resolution, taken_until),
                    },
                )
            self.abandoned += len(late)
            for task in late:
                task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
