"""The Worker-Manager v1 endpoint table, served by the provisioner (protocol.md,
"Worker-manager").

Declared in the style of endpoints.py: each endpoint once, with its route, types and scopes.
Routes sit under `<rootUrl>/api/worker-manager/v1`, as in Taskcluster.
"""

from __future__ import annotations

from . import queues as q
from . import worker_manager as wm
from .endpoints import PAGE, Endpoint

__all__ = ["WORKER_MANAGER_ENDPOINTS", "worker_manager_endpoint"]

_POOL = "<workerPoolId>"
_WORKER = "<workerPoolId>/<workerGroup>/<workerId>"
_MANAGE = {
    "AllOf": [f"worker-manager:manage-worker-pool:{_POOL}", "worker-manager:provider:<providerId>"]
}
_S = "worker-manager"

WORKER_MANAGER_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "listProviders",
        _S,
        "GET",
        "/providers",
        "List the providers this provisioner has.",
        None,
        wm.ListProvidersResponse,
        "worker-manager:list-providers",
        PAGE,
    ),
    Endpoint(
        "createWorkerPool",
        _S,
        "PUT",
        f"/worker-pool/{_POOL}",
        "Create a worker pool, idempotently.",
        wm.CreateWorkerPoolRequest,
        wm.WorkerPool,
        _MANAGE,
    ),
    Endpoint(
        "updateWorkerPool",
        _S,
        "POST",
        f"/worker-pool/{_POOL}",
        "Replace a worker pool's definition.",
        wm.UpdateWorkerPoolRequest,
        wm.WorkerPool,
        _MANAGE,
        (),
        "experimental",
    ),
    Endpoint(
        "deleteWorkerPool",
        _S,
        "DELETE",
        f"/worker-pool/{_POOL}",
        "Retire a worker pool: its workers are stopped, then it is removed.",
        None,
        wm.WorkerPool,
        f"worker-manager:manage-worker-pool:{_POOL}",
    ),
    Endpoint(
        "workerPool",
        _S,
        "GET",
        f"/worker-pool/{_POOL}",
        "Get a worker pool with its live counts.",
        None,
        wm.WorkerPool,
        f"worker-manager:get-worker-pool:{_POOL}",
    ),
    Endpoint(
        "listWorkerPools",
        _S,
        "GET",
        "/worker-pools",
        "List the worker pools.",
        None,
        wm.ListWorkerPoolsResponse,
        "worker-manager:list-worker-pools",
        PAGE,
    ),
    Endpoint(
        "listWorkerPoolErrors",
        _S,
        "GET",
        f"/worker-pool-errors/{_POOL}",
        "The errors recorded on a pool (failed starts), newest first.",
        None,
        wm.ListWorkerPoolErrorsResponse,
        f"worker-manager:list-worker-pool-errors:{_POOL}",
        PAGE,
    ),
    Endpoint(
        "listWorkersForWorkerPool",
        _S,
        "GET",
        f"/workers/{_POOL}",
        "List a pool's workers.",
        None,
        wm.ListWorkersResponse,
        f"worker-manager:list-workers:{_POOL}",
        (*PAGE, "state", "launchConfigId"),
    ),
    Endpoint(
        "worker",
        _S,
        "GET",
        f"/workers/{_WORKER}",
        "Get a worker.",
        None,
        wm.Worker,
        f"worker-manager:get-worker:{_WORKER}",
    ),
    Endpoint(
        "createWorker",
        _S,
        "PUT",
        f"/workers/{_WORKER}",
        "Create a worker of a static pool, with the secret it registers with.",
        wm.CreateWorkerRequest,
        wm.Worker,
        f"worker-manager:create-worker:{_WORKER}",
    ),
    Endpoint(
        "removeWorker",
        _S,
        "DELETE",
        f"/workers/{_WORKER}",
        "Remove a worker: it is stopped and its runs are retried elsewhere at once.",
        None,
        wm.RemoveWorkerResponse,
        f"worker-manager:remove-worker:{_WORKER}",
    ),
    Endpoint(
        "shouldWorkerTerminate",
        _S,
        "GET",
        f"/workers/{_WORKER}/should-terminate",
        "Whether the worker should shut down, and why.",
        None,
        wm.ShouldWorkerTerminateResponse,
        f"worker-manager:should-worker-terminate:{_WORKER}",
        (),
        "experimental",
    ),
    Endpoint(
        "registerWorker",
        _S,
        "POST",
        "/worker/register",
        "A started worker proves who it is and gets credentials and its config.",
        wm.RegisterWorkerRequest,
        wm.RegisterWorkerResponse,
    ),
    Endpoint(
        "reregisterWorker",
        _S,
        "POST",
        "/worker/reregister",
        "A registered worker trades its secret for fresh credentials before they expire.",
        wm.ReregisterWorkerRequest,
        wm.ReregisterWorkerResponse,
        f"worker-manager:reregister-worker:{_WORKER}",
        (),
        "experimental",
    ),
    Endpoint(
        "ping", _S, "GET", "/ping", "Answer that the provisioner is alive.", None, q.PingResponse
    ),
    Endpoint(
        "heartbeat",
        _S,
        "GET",
        "/__heartbeat__",
        "Answer 200 when the provisioner and its database are healthy.",
        None,
        q.HeartbeatResponse,
    ),
    Endpoint(
        "lbheartbeat",
        _S,
        "GET",
        "/__lbheartbeat__",
        "Answer 200 while the process runs (for load balancers).",
        None,
        q.HeartbeatResponse,
    ),
)

_BY_NAME = {endpoint.name: endpoint for endpoint in WORKER_MANAGER_ENDPOINTS}
assert len(_BY_NAME) == len(WORKER_MANAGER_ENDPOINTS), "endpoint names must be unique"


def worker_manager_endpoint(name: str) -> Endpoint:
    return _BY_NAME[name]
