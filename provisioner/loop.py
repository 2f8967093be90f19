"""The provisioning loop: every few seconds, for each pool, look at its workers, then size it.

One pass over a pool (protocol.md, "Scaling", "Worker lifecycle"):
1. scan: ask the provider whether each live worker still exists (one gone before it registered
   is a failed start: an error on the pool, and its launch config backs off); remove workers
   past a lifecycle timeout; resolve runs still held by removed workers; store which idle
   workers should terminate (running capacity above the target);
2. size: the estimator (core/estimator.py) on the queue's counts gives the capacity to launch,
   split among launch configs by weight and health (core/launching.py).
A deleted pool (`null-provider`) has its workers removed, and goes once none is live.
`run_once` makes one pass over every pool, so tests can drive the loop step by step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

from clients.client import ClientError
from clients.protocol.ids import split_task_queue_id
from clients.protocol.pool_config import PoolConfig, StaticPoolConfig
from clients.protocol.times import parse_time
from clients.protocol.worker_manager import WorkerState

from .core.estimator import Demand, PoolCapacity, Sizing, over_provisioned, to_launch
from .core.estimator import target_capacity as target_of
from .core.launching import BackOff, LaunchHealth, LaunchOption, plan_launches
from .core.pools import NULL_PROVIDER, decode_config, launchables
from .core.retirement import Lifecycle, Removal, WorkerFacts, removal_reason, to_terminate
from .core.workers import LIVE
from .fleet import Fleet, ref_of
from .providers.base import Liveness
from .store import PoolRow, WorkerRow

__all__ = ["Provisioner"]

log = logging.getLogger("infrax.provisioner")
S = WorkerState


class Provisioner:
    def __init__(self, fleet: Fleet, interval_s: float, backoff: BackOff, stop_grace_s: float):
        self.fleet = fleet
        self.store = fleet.store
        self.interval_s = interval_s
        self.backoff = backoff
        self.stop_grace_ms = int(stop_grace_s * 1000)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, provisioner_url: str, background: bool = True) -> None:
        """Workers register at `provisioner_url`; the loop runs in the background unless
        `background` is False (then `run_once` drives it)."""
        self.fleet.provisioner_url = provisioner_url
        if background:
            self._task = asyncio.create_task(self.run(), name="provisioner")

    async def stop(self, within_s: float = 15.0) -> None:
        """End the loop, then remove the workers it launched (they are its children: a
        stopped provisioner leaves none behind, and their runs are retried at once)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        try:
            await asyncio.wait_for(self._remove_launched(), within_s)
        except (TimeoutError, ClientError) as error:
            log.warning("shutdown_incomplete", extra={"reason": repr(error)})

    async def _remove_launched(self) -> None:
        offset = 0
        while pools := await self.store.list_pools(offset, 100):
            for pool in pools:
                for worker in await self.store.list_workers(pool.worker_pool_id, LIVE):
                    provider = self.fleet.providers.get(worker.provider_id)
                    if provider is not None and provider.starts_workers:
                        await self.fleet.remove(worker, "the provisioner is shutting down")
            offset += len(pools)

    def wake(self) -> None:
        """Make the next pass start now (a pool changed, a worker was removed)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("pass_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)

    async def run_once(self) -> None:
        offset = 0
        while pools := await self.store.list_pools(offset, 100):
            for pool in pools:  # one pool's trouble (a queue error, a bug) spares the others
                try:
                    await self.pass_over(pool)
                except ClientError as error:
                    log.warning(
                        "pool_pass_failed", extra={"reason": f"{pool.worker_pool_id}: {error}"}
                    )
                except Exception:
                    log.exception("pool_pass_crashed", extra={"reason": pool.worker_pool_id})
            offset += len(pools)
        await self.store.delete_expired_workers(self.fleet.now_ms())

    async def pass_over(self, pool: PoolRow) -> None:
        pool_id = pool.worker_pool_id
        if pool.provider_id == NULL_PROVIDER:
            for worker in await self.store.list_workers(pool_id, (S.requested, S.running)):
                await self.fleet.remove(worker, "the pool was deleted")
            await self._scan(pool, None)
            await self.store.remove_pool_if_empty(pool_id, NULL_PROVIDER)
            return
        provider = self.fleet.providers.get(pool.provider_id)
        if provider is None:
            return
        config = decode_config(provider.provider_type, pool.config)
        demand = await self._demand(pool_id)
        await self._scan(pool, config, demand)
        if not isinstance(config, StaticPoolConfig) and provider.starts_workers:
            await self._size(pool, config, demand)

    async def _demand(self, pool_id: str) -> Demand:
        counts = await self.fleet.queue.task_queue_counts(pool_id)
        return Demand(pending=counts.pending_tasks, claimed=counts.claimed_tasks)

    # -- scan --------------------------------------------------------------------------------

    async def _scan(
        self, pool: PoolRow, config: PoolConfig | None, demand: Demand | None = None
    ) -> None:
        pool_id = pool.worker_pool_id
        workers = await self.store.list_workers(pool_id, LIVE)
        busy = await self._busy(pool_id)
        active = await self._last_active(pool_id, workers)
        now = self.fleet.now_ms()
        lifecycle = _lifecycle(config)
        facts = []
        for worker in workers:
            if await self._gone(worker):
                continue
            fact = _facts(worker, busy, active)
            facts.append(fact)
            if worker.state == S.stopping:
                await self._hurry(worker, now)
                continue
            if not worker.one_time and worker.expires_ms < now:
                await self.fleet.remove(worker, "the worker expired")  # a static worker
                continue
            reason = None if lifecycle is None else removal_reason(fact, lifecycle, now)
            if reason is not None:
                await self._retire(worker, reason)
        removed = await self.store.list_workers(pool_id, (S.stopping, S.stopped))
        held = {(w.worker_group, w.worker_id) for w in removed} & set(busy)
        await self.fleet.resolve_held_runs(pool_id, held)
        if demand is not None and config is not None and not isinstance(config, StaticPoolConfig):
            target = target_of(_sizing(config), demand)
            chosen = to_terminate([f for f in facts if f.state == "running"], target)
            why = f"the pool needs {target} capacity; this worker is idle"
            await self.store.set_terminations(
                pool_id, {(f.worker_group, f.worker_id): why for f in chosen}
            )

    async def _busy(self, pool_id: str) -> Counter[tuple[str, str]]:
        busy: Counter[tuple[str, str]] = Counter()
        async for item in self.fleet.queue.iter_list_claimed_tasks(pool_id):
            busy[(item.worker_group, item.worker_id)] += 1
        return busy

    async def _last_active(
        self, pool_id: str, workers: list[WorkerRow]
    ) -> dict[tuple[str, str], int]:
        """The queue's lastDateActive of each worker of the pool (only when it matters)."""
        parts = split_task_queue_id(pool_id)
        if parts is None or not any(w.state == S.running for w in workers):
            return {}
        return {
            (item.worker_group, item.worker_id): parse_time(item.last_date_active)
            async for item in self.fleet.queue.iter_list_workers(*parts)
            if isinstance(item.last_date_active, str)
        }

    async def _gone(self, worker: WorkerRow) -> bool:
        """Whether the worker no longer exists; if so it is stopped, and a start that failed
        is recorded."""
        provider = self.fleet.providers.get(worker.provider_id)
        if provider is None:
            return False
        check = await provider.check_worker(ref_of(worker))
        if check.liveness != Liveness.gone:
            return False
        await self.store.move_worker(worker.key, S.stopped, self.fleet.now_ms())
        await provider.release_worker(ref_of(worker))
        if worker.state == S.requested:
            detail = f"exit code {check.exit_code}\n\n{check.output_tail}".rstrip()
            await self.fleet.failed_start(
                worker, "worker-exited", "The worker exited before it registered", detail
            )
        else:
            log.info("stopped", extra={"worker_id": worker.worker_id, "reason": check.exit_code})
        return True

    async def _hurry(self, worker: WorkerRow, now: int) -> None:
        """A removed worker still there after the grace is asked again (a kill)."""
        provider = self.fleet.providers.get(worker.provider_id)
        if provider is not None and now - worker.last_modified_ms > self.stop_grace_ms:
            await provider.stop_worker(ref_of(worker))

    async def _retire(self, worker: WorkerRow, reason: Removal) -> None:
        await self.fleet.remove(worker, reason.value)
        if reason == Removal.registration_timeout:
            await self.fleet.failed_start(
                worker, reason.value, "The worker did not register in time", ""
            )

    # -- size --------------------------------------------------------------------------------

    async def _size(self, pool: PoolRow, config: PoolConfig, demand: Demand) -> None:
        assert not isinstance(config, StaticPoolConfig)
        pool_id = pool.worker_pool_id
        provider = self.fleet.providers[pool.provider_id]
        workers = await self.store.list_workers(pool_id, LIVE)
        capacity = PoolCapacity(
            requested=sum(w.capacity for w in workers if w.state == S.requested),
            running=sum(w.capacity for w in workers if w.state == S.running),
            stopping=sum(w.capacity for w in workers if w.state == S.stopping),
        )
        sizing = _sizing(config)
        if over_provisioned(sizing, capacity):
            log.warning("over_provisioned", extra={"reason": f"{pool_id}: {capacity}"})
        wanted = to_launch(sizing, demand, capacity)
        if wanted <= 0:
            return
        health = await self.store.launch_health(pool_id)
        configs = {item.launch_config_id: item for item in launchables(pool_id, config)}
        options = [
            LaunchOption(
                launch_config_id=key,
                capacity_per_instance=item.capacity_per_instance,
                initial_weight=item.initial_weight,
                max_capacity=item.max_capacity,
                current_capacity=sum(w.capacity for w in workers if w.launch_config_id == key),
                starting=sum(
                    1 for w in workers if w.launch_config_id == key and w.state == S.requested
                ),
                health=health.get(key, LaunchHealth()),
            )
            for key, item in configs.items()
        ]
        room = sizing.max_capacity - capacity.existing - capacity.stopping
        plan = plan_launches(options, wanted, room, self.fleet.now_ms(), self.backoff)
        for key in plan:
            await self.fleet.launch(pool_id, provider, configs[key])


def _sizing(config: PoolConfig) -> Sizing:
    assert not isinstance(config, StaticPoolConfig)
    return Sizing(config.min_capacity, config.max_capacity, config.scaling_ratio)


def _lifecycle(config: PoolConfig | None) -> Lifecycle | None:
    if config is None or isinstance(config, StaticPoolConfig):
        return None
    return Lifecycle(
        registration_timeout_ms=config.lifecycle.registration_timeout * 1000,
        queue_inactivity_timeout_ms=config.lifecycle.queue_inactivity_timeout * 1000,
    )


def _facts(
    worker: WorkerRow, busy: Counter[tuple[str, str]], active: dict[tuple[str, str], int]
) -> WorkerFacts:
    key = (worker.worker_group, worker.worker_id)
    return WorkerFacts(
        worker_group=worker.worker_group,
        worker_id=worker.worker_id,
        state=worker.state.value,
        static=not worker.one_time,
        capacity=worker.capacity,
        created_ms=worker.created_ms,
        registered_ms=worker.registered_ms,
        credentials_expire_ms=worker.credentials_expire_ms,
        last_active_ms=active.get(key),
        busy=busy[key],
        told_to_terminate=worker.terminate,
    )
