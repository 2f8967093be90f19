"""Queue calls about task queues, provisioners, workers and health (protocol.md, "Endpoints")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..protocol import queues as q
from .service import ServiceClient

__all__ = ["WorkerCalls"]

Page = dict[str, str | int | bool | None]


def _page(continuation_token: str | None, limit: int | None) -> Page:
    return {"continuationToken": continuation_token, "limit": limit}


class WorkerCalls(ServiceClient):
    """Task queues, provisioners, worker types, workers and health; mixed into ``Queue``."""

    # -- task queues and counts --------------------------------------------------------------------
    async def pending_tasks(self, task_queue_id: str) -> q.PendingTasksResponse:
        """How many runs are pending in a task queue (deprecated: see task_queue_counts)."""
        params = {"taskQueueId": task_queue_id}
        return await self._call("pendingTasks", q.PendingTasksResponse, params)

    async def task_queue_counts(self, task_queue_id: str) -> q.TaskQueueCounts:
        """How many runs are pending and claimed in a task queue."""
        params = {"taskQueueId": task_queue_id}
        return await self._call("taskQueueCounts", q.TaskQueueCounts, params)

    async def task_queue_counts_batch(self, task_queue_ids: Sequence[str]) -> q.CountsBatchResponse:
        """The counts of up to 1000 task queues at once."""
        body = q.CountsBatchRequest(task_queue_ids=list(task_queue_ids))
        return await self._call("taskQueueCountsBatch", q.CountsBatchResponse, {}, body)

    async def list_pending_tasks(
        self, task_queue_id: str, *, continuation_token: str | None = None, limit: int | None = None
    ) -> q.ListPendingTasksResponse:
        """One page of a task queue's pending runs, in claim order."""
        params = {"taskQueueId": task_queue_id}
        query = _page(continuation_token, limit)
        return await self._call("listPendingTasks", q.ListPendingTasksResponse, params, None, query)

    def iter_list_pending_tasks(
        self, task_queue_id: str, *, limit: int | None = None
    ) -> AsyncIterator[q.PendingTaskItem]:
        """Every pending run of a task queue, in claim order."""
        return self._paginate(
            lambda token: self.list_pending_tasks(
                task_queue_id, continuation_token=token, limit=limit
            ),
            lambda page: page.tasks,
        )

    async def list_claimed_tasks(
        self, task_queue_id: str, *, continuation_token: str | None = None, limit: int | None = None
    ) -> q.ListClaimedTasksResponse:
        """One page of a task queue's claimed runs."""
        params = {"taskQueueId": task_queue_id}
        query = _page(continuation_token, limit)
        return await self._call("listClaimedTasks", q.ListClaimedTasksResponse, params, None, query)

    def iter_list_claimed_tasks(
        self, task_queue_id: str, *, limit: int | None = None
    ) -> AsyncIterator[q.ClaimedTaskItem]:
        """Every claimed run of a task queue."""
        return self._paginate(
            lambda token: self.list_claimed_tasks(
                task_queue_id, continuation_token=token, limit=limit
            ),
            lambda page: page.tasks,
        )

    async def list_task_queues(
        self, *, continuation_token: str | None = None, limit: int | None = None
    ) -> q.ListTaskQueuesResponse:
        """One page of the task queues seen."""
        query = _page(continuation_token, limit)
        return await self._call("listTaskQueues", q.ListTaskQueuesResponse, {}, None, query)

    def iter_list_task_queues(self, *, limit: int | None = None) -> AsyncIterator[q.TaskQueue]:
        """Every task queue seen."""
        return self._paginate(
            lambda token: self.list_task_queues(continuation_token=token, limit=limit),
            lambda page: page.task_queues,
        )

    async def get_task_queue(self, task_queue_id: str) -> q.TaskQueue:
        """One task queue."""
        return await self._call("getTaskQueue", q.TaskQueue, {"taskQueueId": task_queue_id})

    # -- provisioners, worker types and workers ------------------------------------------------------
    async def list_provisioners(
        self, *, continuation_token: str | None = None, limit: int | None = None
    ) -> q.ListProvisionersResponse:
        """One page of provisioners (deprecated in Taskcluster; task queues replace them)."""
        query = _page(continuation_token, limit)
        return await self._call("listProvisioners", q.ListProvisionersResponse, {}, None, query)

    def iter_list_provisioners(self, *, limit: int | None = None) -> AsyncIterator[q.Provisioner]:
        """Every provisioner."""
        return self._paginate(
            lambda token: self.list_provisioners(continuation_token=token, limit=limit),
            lambda page: page.provisioners,
        )

    async def get_provisioner(self, provisioner_id: str) -> q.Provisioner:
        """One provisioner."""
        params = {"provisionerId": provisioner_id}
        return await self._call("getProvisioner", q.Provisioner, params)

    async def list_worker_types(
        self,
        provisioner_id: str,
        *,
        continuation_token: str | None = None,
        limit: int | None = None,
    ) -> q.ListWorkerTypesResponse:
        """One page of a provisioner's worker types."""
        params = {"provisionerId": provisioner_id}
        query = _page(continuation_token, limit)
        return await self._call("listWorkerTypes", q.ListWorkerTypesResponse, params, None, query)

    def iter_list_worker_types(
        self, provisioner_id: str, *, limit: int | None = None
    ) -> AsyncIterator[q.WorkerType]:
        """Every worker type of a provisioner."""
        return self._paginate(
            lambda token: self.list_worker_types(
                provisioner_id, continuation_token=token, limit=limit
            ),
            lambda page: page.worker_types,
        )

    async def get_worker_type(self, provisioner_id: str, worker_type: str) -> q.WorkerType:
        """One worker type."""
        params = {"provisionerId": provisioner_id, "workerType": worker_type}
        return await self._call("getWorkerType", q.WorkerType, params)

    async def list_workers(
        self,
        provisioner_id: str,
        worker_type: str,
        *,
        quarantined: bool | None = None,
        continuation_token: str | None = None,
        limit: int | None = None,
    ) -> q.ListWorkersResponse:
        """One page of the workers seen for a worker type, optionally only (non-)quarantined."""
        params = {"provisionerId": provisioner_id, "workerType": worker_type}
        query: Page = {**_page(continuation_token, limit), "quarantined": quarantined}
        return await self._call("listWorkers", q.ListWorkersResponse, params, None, query)

    def iter_list_workers(
        self,
        provisioner_id: str,
        worker_type: str,
        *,
        quarantined: bool | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[q.WorkerListItem]:
        """Every worker seen for a worker type."""
        return self._paginate(
            lambda token: self.list_workers(
                provisioner_id,
                worker_type,
                quarantined=quarantined,
                continuation_token=token,
                limit=limit,
            ),
            lambda page: page.workers,
        )

    async def get_worker(
        self, provisioner_id: str, worker_type: str, worker_group: str, worker_id: str
    ) -> q.WorkerResponse:
        """One worker with its recent tasks and quarantine."""
        params = _worker(provisioner_id, worker_type, worker_group, worker_id)
        return await self._call("getWorker", q.WorkerResponse, params)

    async def quarantine_worker(
        self,
        provisioner_id: str,
        worker_type: str,
        worker_group: str,
        worker_id: str,
        *,
        quarantine_until: str,
        quarantine_info: str = "",
    ) -> q.WorkerResponse:
        """Quarantine a worker until a time (a past time lifts it): it claims nothing till then."""
        params = _worker(provisioner_id, worker_type, worker_group, worker_id)
        body = q.QuarantineWorkerRequest(
            quarantine_until=quarantine_until, quarantine_info=quarantine_info
        )
        return await self._call("quarantineWorker", q.WorkerResponse, params, body)

    async def declare_worker(
        self,
        provisioner_id: str,
        worker_type: str,
        worker_group: str,
        worker_id: str,
        *,
        expires: str | None = None,
        host: q.DeclaredHost | None = None,
    ) -> q.WorkerResponse:
        """Declare a worker (when its record expires, the host it runs on) before it claims."""
        params = _worker(provisioner_id, worker_type, worker_group, worker_id)
        body = q.DeclareWorkerRequest()
        if expires is not None:
            body.expires = expires
        if host is not None:
            body.host = host
        return await self._call("declareWorker", q.WorkerResponse, params, body)

    async def openapi(self) -> dict[str, Any]:
        """This API as an OpenAPI 3.1 document (to generate a client in another language)."""
        return await self._call("openapi", dict[str, Any])

    # -- health ----------------------------------------------------------------------------------------
    async def ping(self) -> q.PingResponse:
        """Whether the server is alive, and for how long."""
        return await self._call("ping", q.PingResponse)

    async def heartbeat(self) -> q.HeartbeatResponse:
        """Succeeds when the server and its database are healthy."""
        return await self._call("heartbeat", q.HeartbeatResponse)

    async def lbheartbeat(self) -> q.HeartbeatResponse:
        """Succeeds while the process runs (for load balancers)."""
        return await self._call("lbheartbeat", q.HeartbeatResponse)

    async def version(self) -> q.VersionResponse:
        """The server's version."""
        return await self._call("version", q.VersionResponse)


def _worker(
    provisioner_id: str, worker_type: str, worker_group: str, worker_id: str
) -> dict[str, str]:
    return {
        "provisionerId": provisioner_id,
        "workerType": worker_type,
        "workerGroup": worker_group,
        "workerId": worker_id,
    }
