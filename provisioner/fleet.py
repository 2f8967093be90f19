"""Acting on workers: launch, remove, resolve what a removed worker held, record errors.

Shared by the API handlers (createWorker, removeWorker) and the loop. Removing a worker
(protocol.md, "Worker lifecycle"):
1. it moves to `stopping`, so it is neither counted nor asked again;
2. the queue quarantines it, so a worker the provisioner cannot stop (a static machine) claims
   nothing more;
3. its provider is asked to stop it (a process gets SIGTERM twice: no grace);
4. every run it holds is resolved exception/worker-shutdown at once, so the queue retries it
   now instead of at claim expiry. The loop repeats this for stopping and stopped workers on
   every pass, in case a claim was in flight.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from clients.client import ClientError, Queue, RequestConflict, ResourceNotFound
from clients.protocol.ids import new_slugid, split_task_queue_id
from clients.protocol.times import format_ms
from clients.protocol.worker_manager import WorkerState

from .core.pools import Launchable
from .providers.base import LaunchError, Provider, WorkerLaunch, WorkerRef
from .store import ErrorRow, PoolStore, WorkerRow

__all__ = ["Fleet", "hash_secret", "new_secret"]

log = logging.getLogger("infrax.provisioner")

ERROR_KEEP_MS = 7 * 86_400_000  # pool errors are kept a week, as in Taskcluster
LAUNCHED_WORKER_LIFETIME_MS = 7 * 86_400_000
S = WorkerState


def new_secret() -> str:
    """44 URL-safe characters (two slugids), the shape of Taskcluster's worker secrets."""
    return new_slugid() + new_slugid()


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def ref_of(worker: WorkerRow) -> WorkerRef:
    return WorkerRef(
        worker.worker_pool_id, worker.worker_group, worker.worker_id, worker.provider_data
    )


class Fleet:
    def __init__(
        self,
        store: PoolStore,
        queue: Queue,
        providers: Mapping[str, Provider],
        clock_ms: Callable[[], int],
    ) -> None:
        self.store = store
        self.queue = queue
        self.providers = providers
        self.now_ms = clock_ms
        self.queue_root_url = queue.options.root_url
        self.provisioner_url = ""  # known once the API listens (Provisioner.start)

    async def launch(self, pool_id: str, provider: Provider, launchable: Launchable) -> None:
        """Start one worker of a launch config; a refusal is an error on the pool."""
        now = self.now_ms()
        secret = new_secret()
        worker = WorkerRow(
            worker_pool_id=pool_id,
            worker_group=provider.provider_id,
            worker_id=f"i-{secrets.token_hex(8)}",
            provider_id=provider.provider_id,
            launch_config_id=launchable.launch_config_id,
            state=S.requested,
            capacity=launchable.capacity_per_instance,
            created_ms=now,
            expires_ms=now + LAUNCHED_WORKER_LIFETIME_MS,
            last_modified_ms=now,
            last_checked_ms=now,
            secret_hash=hash_secret(secret),
            one_time=True,
        )
        await self.store.insert_worker(worker)
        launch = WorkerLaunch(
            worker_pool_id=pool_id,
            worker_group=worker.worker_group,
            worker_id=worker.worker_id,
            capacity=worker.capacity,
            launch_config_id=launchable.launch_config_id,
            launch_config=launchable.config,
            queue_root_url=self.queue_root_url,
            provisioner_url=self.provisioner_url,
            provider_id=provider.provider_id,
            registration_secret=secret,
        )
        try:
            data = await provider.start_worker(launch)
        except Exception as error:
            if not isinstance(error, LaunchError):
                log.exception("launch_crashed", extra={"worker_id": worker.worker_id})
            await self.store.move_worker(worker.key, S.stopped, self.now_ms())
            await self.failed_start(
                worker, "launch-failed", "The worker could not be started", str(error)
            )
            return
        started = replace(worker, provider_data=data)
        await self.store.save_worker(started, lambda row: row.state == S.requested)
        log.info("launched", extra={"worker_id": worker.worker_id, "reason": pool_id})

    async def failed_start(self, worker: WorkerRow, kind: str, title: str, detail: str) -> None:
        await self.record_error(worker, kind, title, detail, failed_start=True)

    async def record_error(
        self,
        worker: WorkerRow,
        kind: str,
        title: str,
        description: str,
        *,
        failed_start: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        error = ErrorRow(
            error_id=new_slugid(),
            worker_pool_id=worker.worker_pool_id,
            reported_ms=self.now_ms(),
            kind=kind,
            title=title,
            description=description[-10240:],
            extra={
                "workerGroup": worker.worker_group,
                "workerId": worker.worker_id,
                **(extra or {}),
            },
            launch_config_id=worker.launch_config_id,
        )
        await self.store.add_error(error, failed_start, ERROR_KEEP_MS)
        log.warning(
            "pool_error", extra={"worker_id": worker.worker_id, "reason": f"{kind}: {title}"}
        )

    async def remove(self, worker: WorkerRow, reason: str) -> None:
        """Stop the worker and retry the runs it holds (the module's docstring, 1 to 4)."""
        moved = await self.store.move_worker(worker.key, S.stopping, self.now_ms())
        if moved is None:
            return
        log.info("removing", extra={"worker_id": worker.worker_id, "reason": reason})
        await self._quarantine(moved, reason)
        provider = self.providers.get(moved.provider_id)
        if provider is not None:
            await provider.stop_worker(ref_of(moved))
            await provider.stop_worker(ref_of(moved))  # the second request skips the grace
        await self.resolve_held_runs(moved.worker_pool_id, {(moved.worker_group, moved.worker_id)})
        if provider is None or not provider.starts_workers:
            await self.store.move_worker(moved.key, S.stopped, self.now_ms())

    async def _quarantine(self, worker: WorkerRow, reason: str) -> None:
        parts = split_task_queue_id(worker.worker_pool_id)
        if parts is None:
            return
        until = max(
            worker.expires_ms, worker.credentials_expire_ms or 0, self.now_ms() + 86_400_000
        )
        try:
            await self.queue.quarantine_worker(
                *parts,
                worker.worker_group,
                worker.worker_id,
                quarantine_until=format_ms(until),
                quarantine_info=f"removed by the provisioner: {reason}",
            )
        except ResourceNotFound:
            return  # it never called the queue
        except ClientError as error:
            log.warning(
                "quarantine_failed", extra={"worker_id": worker.worker_id, "reason": str(error)}
            )

    async def resolve_held_runs(self, pool_id: str, workers: set[tuple[str, str]]) -> int:
        """Resolve exception/worker-shutdown every run these workers of the pool hold."""
        if not workers:
            return 0
        resolved = 0
        try:
            held = [
                item
                async for item in self.queue.iter_list_claimed_tasks(pool_id)
                if (item.worker_group, item.worker_id) in workers
            ]
        except ClientError as error:
            log.warning("claims_unknown", extra={"reason": str(error)})
            return 0
        for item in held:
            try:
                await self.queue.report_exception(item.task_id, item.run_id, "worker-shutdown")
            except (RequestConflict, ResourceNotFound):
                continue  # resolved meanwhile
            except ClientError as error:
                log.warning("resolve_failed", extra={"task_id": item.task_id, "reason": str(error)})
                continue
            resolved += 1
            log.info(
                "run_resolved",
                extra={"task_id": item.task_id, "run_id": item.run_id, "worker_id": item.worker_id},
            )
        return resolved
