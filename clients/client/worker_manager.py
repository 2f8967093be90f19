"""The typed client of the Worker-Manager v1 API the provisioner serves (protocol.md,
"Worker-manager")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

from ..protocol import queues as q
from ..protocol import worker_manager as wm
from ..protocol.endpoints import Endpoint
from ..protocol.worker_manager_endpoints import WORKER_MANAGER_ENDPOINTS
from .service import Body, ServiceClient

__all__ = ["WorkerManager"]


class WorkerManager(ServiceClient):
    """An async client of ``<rootUrl>/api/worker-manager/v1``: pools, workers, registration.

    The rootUrl is the provisioner's (``infrax provisioner`` prints it), unless a proxy serves
    it beside the queue under one rootUrl.
    """

    service: ClassVar[str] = "worker-manager"
    endpoints: ClassVar[tuple[Endpoint, ...]] = WORKER_MANAGER_ENDPOINTS

    async def list_providers(
        self, *, continuation_token: str | None = None, limit: int | None = None
    ) -> wm.ListProvidersResponse:
        """One page of the providers (``static``, ``process``, ``docker``...)."""
        query = {"continuationToken": continuation_token, "limit": limit}
        return await self._call("listProviders", wm.ListProvidersResponse, {}, None, query)

    def iter_list_providers(self, *, limit: int | None = None) -> AsyncIterator[wm.ProviderSummary]:
        """Every provider."""
        return self._paginate(
            lambda token: self.list_providers(continuation_token=token, limit=limit),
            lambda page: page.providers,
        )

    async def create_worker_pool(
        self, worker_pool_id: str, pool: wm.CreateWorkerPoolRequest | Body
    ) -> wm.WorkerPool:
        """Create a pool; an identical existing one is answered as created."""
        params = {"workerPoolId": worker_pool_id}
        return await self._call("createWorkerPool", wm.WorkerPool, params, pool)

    async def update_worker_pool(
        self, worker_pool_id: str, pool: wm.UpdateWorkerPoolRequest | Body
    ) -> wm.WorkerPool:
        """Replace a pool's provider, description, owner and config."""
        params = {"workerPoolId": worker_pool_id}
        return await self._call("updateWorkerPool", wm.WorkerPool, params, pool)

    async def delete_worker_pool(self, worker_pool_id: str) -> wm.WorkerPool:
        """Retire a pool: its workers are stopped; it goes once none is left."""
        params = {"workerPoolId": worker_pool_id}
        return await self._call("deleteWorkerPool", wm.WorkerPool, params)

    async def worker_pool(self, worker_pool_id: str) -> wm.WorkerPool:
        """A pool with its live counts."""
        return await self._call("workerPool", wm.WorkerPool, {"workerPoolId": worker_pool_id})

    async def list_worker_pools(
        self, *, continuation_token: str | None = None, limit: int | None = None
    ) -> wm.ListWorkerPoolsResponse:
        """One page of the pools."""
        query = {"continuationToken": continuation_token, "limit": limit}
        return await self._call("listWorkerPools", wm.ListWorkerPoolsResponse, {}, None, query)

    def iter_list_worker_pools(self, *, limit: int | None = None) -> AsyncIterator[wm.WorkerPool]:
        """Every pool."""
        return self._paginate(
            lambda token: self.list_worker_pools(continuation_token=token, limit=limit),
            lambda page: page.worker_pools,
        )

    async def list_worker_pool_errors(
        self,
        worker_pool_id: str,
        *,
        continuation_token: str | None = None,
        limit: int | None = None,
    ) -> wm.ListWorkerPoolErrorsResponse:
        """One page of the errors recorded on a pool, newest first."""
        query = {"continuationToken": continuation_token, "limit": limit}
        return await self._call(
            "listWorkerPoolErrors",
            wm.ListWorkerPoolErrorsResponse,
            {"workerPoolId": worker_pool_id},
            None,
            query,
        )

    def iter_list_worker_pool_errors(
        self, worker_pool_id: str, *, limit: int | None = None
    ) -> AsyncIterator[wm.WorkerPoolError]:
        """Every error recorded on a pool, newest first."""
        return self._paginate(
            lambda token: self.list_worker_pool_errors(
                worker_pool_id, continuation_token=token, limit=limit
            ),
            lambda page: page.worker_pool_errors,
        )

    async def list_workers_for_worker_pool(
        self,
        worker_pool_id: str,
        *,
        state: str | None = None,
        launch_config_id: str | None = None,
        continuation_token: str | None = None,
        limit: int | None = None,
    ) -> wm.ListWorkersResponse:
        """One page of a pool's workers, optionally in one ``state``."""
        query = {
            "state": state,
            "launchConfigId": launch_config_id,
            "continuationToken": continuation_token,
            "limit": limit,
        }
        params = {"workerPoolId": worker_pool_id}
        return await self._call(
            "listWorkersForWorkerPool", wm.ListWorkersResponse, params, None, query
        )

    def iter_list_workers_for_worker_pool(
        self, worker_pool_id: str, *, state: str | None = None, limit: int | None = None
    ) -> AsyncIterator[wm.Worker]:
        """Every worker of a pool (in ``state``)."""
        return self._paginate(
            lambda token: self.list_workers_for_worker_pool(
                worker_pool_id, state=state, continuation_token=token, limit=limit
            ),
            lambda page: page.workers,
        )

    async def worker(self, worker_pool_id: str, worker_group: str, worker_id: str) -> wm.Worker:
        """One worker."""
        return await self._call(
            "worker", wm.Worker, _worker(worker_pool_id, worker_group, worker_id)
        )

    async def create_worker(
        self,
        worker_pool_id: str,
        worker_group: str,
        worker_id: str,
        worker: wm.CreateWorkerRequest | Body,
    ) -> wm.Worker:
        """Create a worker of a static pool with the ``staticSecret`` it will register with."""
        params = _worker(worker_pool_id, worker_group, worker_id)
        return await self._call("createWorker", wm.Worker, params, worker)

    async def remove_worker(
        self, worker_pool_id: str, worker_group: str, worker_id: str
    ) -> wm.RemoveWorkerResponse:
        """Stop a worker; the runs it holds are resolved worker-shutdown and retried."""
        params = _worker(worker_pool_id, worker_group, worker_id)
        return await self._call("removeWorker", wm.RemoveWorkerResponse, params)

    async def should_worker_terminate(
        self, worker_pool_id: str, worker_group: str, worker_id: str
    ) -> wm.ShouldWorkerTerminateResponse:
        """Whether this worker should shut down (asked by the worker itself)."""
        params = _worker(worker_pool_id, worker_group, worker_id)
        return await self._call("shouldWorkerTerminate", wm.ShouldWorkerTerminateResponse, params)

    async def register_worker(
        self, request: wm.RegisterWorkerRequest | Body
    ) -> wm.RegisterWorkerResponse:
        """Prove the worker's identity; get its credentials, config and reregistration secret."""
        return await self._call("registerWorker", wm.RegisterWorkerResponse, {}, request)

    async def reregister_worker(
        self, request: wm.ReregisterWorkerRequest | Body
    ) -> wm.ReregisterWorkerResponse:
        """Trade the reregistration secret for fresh credentials and the next secret."""
        return await self._call("reregisterWorker", wm.ReregisterWorkerResponse, {}, request)

    async def ping(self) -> q.PingResponse:
        """Whether the provisioner answers."""
        return await self._call("ping", q.PingResponse)

    async def heartbeat(self) -> q.HeartbeatResponse:
        """Whether the provisioner and its database are healthy."""
        return await self._call("heartbeat", q.HeartbeatResponse)

    async def lbheartbeat(self) -> q.HeartbeatResponse:
        """Whether the provisioner's process runs."""
        return await self._call("lbheartbeat", q.HeartbeatResponse)


def _worker(worker_pool_id: str, worker_group: str, worker_id: str) -> dict[str, object]:
    return {"workerPoolId": worker_pool_id, "workerGroup": worker_group, "workerId": worker_id}
