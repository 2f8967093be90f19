"""The cron loop: fire each due tick once, across restarts and across processes.

Each pass takes the hooks whose `next_scheduled` has come, claims the tick (store.py) and
fires it with the hook's secret `next_task_id`; the fire's `now` is the time the tick was
first claimed, so a retry renders the same task and createTask stays idempotent. A fire that
succeeds or fails for good advances the hook to the next tick after *now*: ticks missed while
no scheduler ran collapse into that one fire (protocol.md, "Schedules"). A queue answering 5xx
or unreachable gives the tick back to be retried on the next pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable

from clients.protocol.hooks import HookDefinition
from clients.protocol.ids import new_slugid

from .core.cron import next_tick
from .firing import Firer, fire_row
from .store import HookStore, TickClaim

__all__ = ["Cron"]

log = logging.getLogger("infrax.scheduler")

RETRY_S = 1.0


def _now_ms() -> int:
    return int(time.time() * 1000)


class Cron:
    def __init__(
        self,
        store: HookStore,
        firer: Firer,
        *,
        poll_s: float,
        lease_s: float,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self._store = store
        self._firer = firer
        self._poll_s = poll_s
        self._lease_ms = int(lease_s * 1000)
        self._clock = clock
        self._owner = uuid.uuid4().hex
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A hook changed here: look at the schedule again now."""
        self._wake.set()

    async def run_once(self, now_ms: int | None = None) -> int:
        """One pass over the due ticks; how many were fired (successfully or not)."""
        now = self._clock() if now_ms is None else now_ms
        fired = 0
        for group, hook_id, tick, _task_id in await self._store.due_ticks(now):
            claim = await self._store.claim_tick(
                group, hook_id, tick, self._owner, now, self._lease_ms
            )
            if claim is not None and await self._fire(claim, now):
                fired += 1
        return fired

    async def _fire(self, claim: TickClaim, now_ms: int) -> bool:
        row = await self._store.get_hook(claim.hook_group_id, claim.hook_id)
        if row is None:
            return False
        hook = row.definition
        outcome = await self._firer.fire(hook, "schedule", claim.task_id, claim.first_claimed, {})
        if outcome.kind == "retry":
            await self._store.release_tick(claim)
            return False
        record = fire_row(hook, "schedule", outcome, claim.first_claimed)
        await self._store.finish_tick(
            claim,
            record if outcome.recorded else None,
            new_slugid(),
            lambda current: _after(current, now_ms),
        )
        return True

    async def run(self) -> None:
        """Pass after pass until cancelled; sleeps until the next tick or a hook change."""
        while True:
            try:
                await self.run_once()
                due = await self._store.next_due()
            except Exception:
                log.exception("cron pass failed", extra={"event": "cron_error"})
                due = None
            wait = self._poll_s
            if due is not None:
                # A tick still due after a pass is held by another process or waits for the
                # queue to come back: look again soon, but do not spin.
                until_due = (due - self._clock()) / 1000
                wait = min(wait, until_due if until_due > 0 else RETRY_S)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)


def _after(hook: HookDefinition, now_ms: int) -> int | None:
    return next_tick(hook.schedule, now_ms)
