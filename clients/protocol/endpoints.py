"""The endpoint table: every endpoint declared once (protocol.md, "Endpoints").

The server binds one handler per entry and refuses to start with one unbound; the client has
one method per entry; protocol.md is checked against this table by a test. Routes are written
as Taskcluster documents them, `<param>` for a path parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import artifacts as a
from . import clients_api as auth
from . import objects as o
from . import queues as q
from . import tasks as t
from .ids import PROVISIONER_ID_PATTERN, SLUGID_PATTERN, WORKER_TYPE_PATTERN

__all__ = ["ENDPOINTS", "PARAM_PATTERNS", "Endpoint", "by_name", "route_params"]

ScopeExpr = str | dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    name: str
    service: str  # "queue", "object" or "auth": the URL is <rootUrl>/api/<service>/v1<route>
    method: str
    route: str
    summary: str
    input: Any = None  # a msgspec type (a Struct, or a union of tagged Structs), or None
    output: Any = None
    scopes: ScopeExpr | None = None  # None: no authorization at all (health endpoints)
    query: tuple[str, ...] = ()
    stability: str = "stable"
    # A websocket endpoint (`GET` upgraded): no body; its frames are in protocol/stream.py.
    websocket: bool = False
    params: tuple[str, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", route_params(self.route))


# How each path parameter must look; a value that does not match is a 400.
PARAM_PATTERNS: dict[str, str] = {
    "taskId": SLUGID_PATTERN,
    "taskGroupId": SLUGID_PATTERN,
    "runId": r"^[1-9]*[0-9]+$",
    "taskQueueId": PROVISIONER_ID_PATTERN[:-1] + "/" + WORKER_TYPE_PATTERN[1:],
    "provisionerId": PROVISIONER_ID_PATTERN,
    "workerType": WORKER_TYPE_PATTERN,
    "workerGroup": r"^[a-zA-Z0-9-_]{1,38}$",
    "workerId": r"^[a-zA-Z0-9-_]{1,38}$",
    "clientId": r"^[A-Za-z0-9!@/:.+|_-]{1,256}$",
    # Artifact and object names: printable ASCII. Lengths and the rules on `..` and a leading
    # `/` are checked where names are created (protocol.md, "Artifact names").
    "name": r"^[\x20-\x7e]+$",
    # Hooks v1 (hook_endpoints.py); a hookId may hold slashes, sent as %2F.
    "hookGroupId": r"^[a-zA-Z0-9-_]{1,1000}$",
    "hookId": r"^[a-zA-Z0-9-_/]{1,1000}$",
    "token": r"^[A-Za-z0-9_-]{1,100}$",
    # A live log's or a shell's secret (protocol.md, "Live logs, shells and the relay").
    "secret": r"^[A-Za-z0-9_-]{1,200}$",
    # Worker-Manager v1 (worker_manager_endpoints.py): a pool id is a taskQueueId, sent as %2F.
    "workerPoolId": PROVISIONER_ID_PATTERN[:-1] + "/" + WORKER_TYPE_PATTERN[1:],
}
# Parameters whose values contain a slash (sent as %2F by the official clients).
SLASHED_PARAMS = frozenset({"taskQueueId", "clientId", "name", "workerPoolId"})

_PARAM = re.compile(r"<([A-Za-z]+)>")


def route_params(route: str) -> tuple[str, ...]:
    return tuple(_PARAM.findall(route))


PAGE = ("continuationToken", "limit")


def _task_action(action: str) -> ScopeExpr:
    """Schedule, rerun and cancel: by task, by project, or the legacy pair (protocol.md)."""
    return {
        "AnyOf": [
            f"queue:{action}-task:<schedulerId>/<taskGroupId>/<taskId>",
            f"queue:{action}-task-in-project:<projectId>",
            {"AllOf": [f"queue:{action}-task", "assume:scheduler-id:<schedulerId>/<taskGroupId>"]},
        ]
    }


_WORKER = "<provisionerId>/<workerType>/<workerGroup>/<workerId>"
_TASK_RUN = "<taskId>/<runId>"
# Reading an artifact needs the scope for every name along its chain of links (protocol.md).
_GET_ARTIFACT = {"AllOf": [{"for": "name", "in": "names", "each": "queue:get-artifact:<name>"}]}
_RUN_ARTIFACT = "/task/<taskId>/runs/<runId>/artifacts/<name>"

ENDPOINTS: tuple[Endpoint, ...] = (
    # -- tasks ------------------------------------------------------------------------------
    Endpoint(
        "createTask",
        "queue",
        "PUT",
        "/task/<taskId>",
        "Create a task, idempotently.",
        t.CreateTaskRequest,
        t.TaskStatusResponse,
        {
            "AllOf": [
                {"for": "scope", "in": "scopes", "each": "<scope>"},
                {"for": "route", "in": "routes", "each": "queue:route:<route>"},
                "queue:create-task:project:<projectId>",
                "queue:scheduler-id:<schedulerId>",
                {
                    "AnyOf": [
                        {
                            "for": "priority",
                            "in": "priorities",
                            "each": "queue:create-task:<priority>:<taskQueueId>",
                        }
                    ]
                },
            ]
        },
    ),
    Endpoint(
        "task",
        "queue",
        "GET",
        "/task/<taskId>",
        "Get a task definition.",
        None,
        t.Task,
        "queue:get-task:<taskId>",
    ),
    Endpoint(
        "status",
        "queue",
        "GET",
        "/task/<taskId>/status",
        "Get a task's status.",
        None,
        t.TaskStatusResponse,
        "queue:status:<taskId>",
    ),
    Endpoint(
        "tasks",
        "queue",
        "POST",
        "/tasks",
        "Get several task definitions.",
        t.TaskIdsRequest,
        t.TasksResponse,
        {"AllOf": [{"for": "taskId", "in": "taskIds", "each": "queue:get-task:<taskId>"}]},
        PAGE,
        "experimental",
    ),
    Endpoint(
        "statuses",
        "queue",
        "POST",
        "/tasks/status",
        "Get several task statuses.",
        t.TaskIdsRequest,
        t.TaskStatusesResponse,
        {"AllOf": [{"for": "taskId", "in": "taskIds", "each": "queue:status:<taskId>"}]},
        PAGE,
        "experimental",
    ),
    Endpoint(
        "scheduleTask",
        "queue",
        "POST",
        "/task/<taskId>/schedule",
        "Schedule a task now, even with unresolved dependencies.",
        None,
        t.TaskStatusResponse,
        _task_action("schedule"),
    ),
    Endpoint(
        "rerunTask",
        "queue",
        "POST",
        "/task/<taskId>/rerun",
        "Add a new run to a resolved task.",
        None,
        t.TaskStatusResponse,
        _task_action("rerun"),
    ),
    Endpoint(
        "rerunSubtree",
        "queue",
        "POST",
        "/task/<taskId>/rerun-subtree",
        "Rerun a resolved task; its resolved dependents rerun after it (an infrax extension).",
        None,
        t.RerunSubtreeResponse,
        {
            "AnyOf": [
                {"AllOf": [{"for": "task", "in": "tasks", "each": "queue:rerun-task:<task>"}]},
                {
                    "AllOf": [
                        {
                            "for": "project",
                            "in": "projects",
                            "each": "queue:rerun-task-in-project:<project>",
                        }
                    ]
                },
            ]
        },
        (),
        "experimental",
    ),
    Endpoint(
        "cancelTask",
        "queue",
        "POST",
        "/task/<taskId>/cancel",
        "Cancel a task that is not yet resolved.",
        None,
        t.TaskStatusResponse,
        _task_action("cancel"),
    ),
    Endpoint(
        "changeTaskPriority",
        "queue",
        "POST",
        "/task/<taskId>/priority",
        "Change the priority of a task.",
        t.ChangePriorityRequest,
        t.TaskStatusResponse,
        {
            "AnyOf": [
                "queue:change-task-priority:<taskId>",
                "queue:change-task-priority-in-queue:<taskQueueId>",
            ]
        },
        (),
        "experimental",
    ),
    Endpoint(
        "listDependentTasks",
        "queue",
        "GET",
        "/task/<taskId>/dependents",
        "List the tasks that depend on a task.",
        None,
        t.ListDependentTasksResponse,
        "queue:list-dependent-tasks:<taskId>",
        PAGE,
    ),
    # -- task groups ------------------------------------------------------------------------
    Endpoint(
        "listTaskGroup",
        "queue",
        "GET",
        "/task-group/<taskGroupId>/list",
        "List the tasks of a task group.",
        None,
        t.ListTaskGroupResponse,
        "queue:list-task-group:<taskGroupId>",
        PAGE,
    ),
    Endpoint(
        "getTaskGroup",
        "queue",
        "GET",
        "/task-group/<taskGroupId>",
        "Get a task group.",
        None,
        t.TaskGroup,
        "queue:list-task-group:<taskGroupId>",
    ),
    Endpoint(
        "sealTaskGroup",
        "queue",
        "POST",
        "/task-group/<taskGroupId>/seal",
        "Seal a task group: no task may be added to it afterwards.",
        None,
        t.TaskGroup,
        "queue:seal-task-group:<schedulerId>/<taskGroupId>",
        (),
        "experimental",
    ),
    Endpoint(
        "cancelTaskGroup",
        "queue",
        "POST",
        "/task-group/<taskGroupId>/cancel",
        "Cancel every unresolved task of a sealed task group.",
        None,
        t.CancelTaskGroupResponse,
        "queue:cancel-task-group:<schedulerId>/<taskGroupId>",
        (),
        "experimental",
    ),
    Endpoint(
        "changeTaskGroupPriority",
        "queue",
        "POST",
        "/task-group/<taskGroupId>/priority",
        "Change the priority of every unresolved task of a group.",
        t.ChangePriorityRequest,
        t.ChangeTaskGroupPriorityResponse,
        "queue:change-task-group-priority:<schedulerId>/<taskGroupId>",
        (),
        "experimental",
    ),
    # -- claims and reports -------------------------------------------------------------------
    Endpoint(
        "claimWork",
        "queue",
        "POST",
        "/claim-work/<taskQueueId>",
        "Claim up to `tasks` pending runs, waiting up to 20 s for work.",
        t.ClaimWorkRequest,
        t.ClaimWorkResponse,
        {"AllOf": ["queue:claim-work:<taskQueueId>", "queue:worker-id:<workerGroup>/<workerId>"]},
    ),
    Endpoint(
        "reclaimTask",
        "queue",
        "POST",
        "/task/<taskId>/runs/<runId>/reclaim",
        "Extend a claim; answers 409 once the run is no longer running.",
        None,
        t.TaskReclaimResponse,
        f"queue:reclaim-task:{_TASK_RUN}",
    ),
    Endpoint(
        "reportCompleted",
        "queue",
        "POST",
        "/task/<taskId>/runs/<runId>/completed",
        "Resolve a run as completed.",
        None,
        t.TaskStatusResponse,
        f"queue:resolve-task:{_TASK_RUN}",
    ),
    Endpoint(
        "reportFailed",
        "queue",
        "POST",
        "/task/<taskId>/runs/<runId>/failed",
        "Resolve a run as failed.",
        None,
        t.TaskStatusResponse,
        f"queue:resolve-task:{_TASK_RUN}",
    ),
    Endpoint(
        "reportException",
        "queue",
        "POST",
        "/task/<taskId>/runs/<runId>/exception",
        "Resolve a run as exception, retrying for some reasons.",
        t.ReportExceptionRequest,
        t.TaskStatusResponse,
        f"queue:resolve-task:{_TASK_RUN}",
    ),
    # -- artifacts ------------------------------------------------------------------------------
    Endpoint(
        "createArtifact",
        "queue",
        "POST",
        _RUN_ARTIFACT,
        "Create an artifact of a run (s3, object, reference, link or error).",
        a.CreateArtifactRequest,
        a.CreateArtifactResponse,
        f"queue:create-artifact:{_TASK_RUN}",
    ),
    Endpoint(
        "finishArtifact",
        "queue",
        "PUT",
        _RUN_ARTIFACT,
        "Mark an object artifact present once its upload is finished; answers 204.",
        a.FinishArtifactRequest,
        None,
        f"queue:create-artifact:{_TASK_RUN}",
    ),
    Endpoint(
        "getArtifact",
        "queue",
        "GET",
        _RUN_ARTIFACT,
        "Redirect (303) to an artifact's content; 424 for an error artifact.",
        None,
        a.GetArtifactResponse,
        _GET_ARTIFACT,
    ),
    Endpoint(
        "getLatestArtifact",
        "queue",
        "GET",
        "/task/<taskId>/artifacts/<name>",
        "As getArtifact, for the task's latest run.",
        None,
        a.GetArtifactResponse,
        _GET_ARTIFACT,
    ),
    Endpoint(
        "listArtifacts",
        "queue",
        "GET",
        "/task/<taskId>/runs/<runId>/artifacts",
        "List the artifacts of a run.",
        None,
        a.ListArtifactsResponse,
        "queue:list-artifacts:<taskId>:<runId>",
        PAGE,
    ),
    Endpoint(
        "listLatestArtifacts",
        "queue",
        "GET",
        "/task/<taskId>/artifacts",
        "List the artifacts of the task's latest run.",
        None,
        a.ListArtifactsResponse,
        "queue:list-artifacts:<taskId>",
        PAGE,
    ),
    Endpoint(
        "artifactInfo",
        "queue",
        "GET",
        "/task/<taskId>/runs/<runId>/artifact-info/<name>",
        "An artifact's metadata (links are not followed).",
        None,
        a.Artifact,
        "queue:list-artifacts:<taskId>:<runId>",
    ),
    Endpoint(
        "latestArtifactInfo",
        "queue",
        "GET",
        "/task/<taskId>/artifact-info/<name>",
        "As artifactInfo, for the task's latest run.",
        None,
        a.Artifact,
        "queue:list-artifacts:<taskId>",
    ),
    Endpoint(
        "artifact",
        "queue",
        "GET",
        "/task/<taskId>/runs/<runId>/artifact-content/<name>",
        "How to fetch an artifact's content: a URL, object credentials or the error.",
        None,
        a.ArtifactContent,
        _GET_ARTIFACT,
    ),
    Endpoint(
        "latestArtifact",
        "queue",
        "GET",
        "/task/<taskId>/artifact-content/<name>",
        "As artifact, for the task's latest run.",
        None,
        a.ArtifactContent,
        _GET_ARTIFACT,
    ),
    # -- task queues and counts ----------------------------------------------------------------
    Endpoint(
        "pendingTasks",
        "queue",
        "GET",
        "/pending/<taskQueueId>",
        "Count the pending runs of a task queue.",
        None,
        q.PendingTasksResponse,
        "queue:pending-count:<taskQueueId>",
        (),
        "deprecated",
    ),
    Endpoint(
        "taskQueueCounts",
        "queue",
        "GET",
        "/task-queues/<taskQueueId>/counts",
        "Count the pending and claimed runs of a task queue.",
        None,
        q.TaskQueueCounts,
        {"AllOf": ["queue:pending-count:<taskQueueId>", "queue:claimed-count:<taskQueueId>"]},
    ),
    Endpoint(
        "taskQueueCountsBatch",
        "queue",
        "POST",
        "/task-queues/counts",
        "Counts for up to 1000 task queues at once.",
        q.CountsBatchRequest,
        q.CountsBatchResponse,
        {
            "AllOf": [
                {
                    "for": "taskQueueId",
                    "in": "taskQueueIds",
                    "each": "queue:pending-count:<taskQueueId>",
                },
                {
                    "for": "taskQueueId",
                    "in": "taskQueueIds",
                    "each": "queue:claimed-count:<taskQueueId>",
                },
            ]
        },
        (),
        "experimental",
    ),
    Endpoint(
        "listPendingTasks",
        "queue",
        "GET",
        "/task-queues/<taskQueueId>/pending",
        "List the pending runs of a task queue in claim order.",
        None,
        q.ListPendingTasksResponse,
        "queue:pending-list:<taskQueueId>",
        PAGE,
        "experimental",
    ),
    Endpoint(
        "listClaimedTasks",
        "queue",
        "GET",
        "/task-queues/<taskQueueId>/claimed",
        "List the claimed runs of a task queue.",
        None,
        q.ListClaimedTasksResponse,
        "queue:claimed-list:<taskQueueId>",
        PAGE,
        "experimental",
    ),
    Endpoint(
        "listTaskQueues",
        "queue",
        "GET",
        "/task-queues",
        "List the task queues seen.",
        None,
        q.ListTaskQueuesResponse,
        "queue:list-task-queues",
        PAGE,
    ),
    Endpoint(
        "getTaskQueue",
        "queue",
        "GET",
        "/task-queues/<taskQueueId>",
        "Get a task queue.",
        None,
        q.TaskQueue,
        "queue:get-task-queue:<taskQueueId>",
    ),
    # -- provisioners, worker types and workers --------------------------------------------------
    Endpoint(
        "listProvisioners",
        "queue",
        "GET",
        "/provisioners",
        "List provisioners.",
        None,
        q.ListProvisionersResponse,
        "queue:list-provisioners",
        PAGE,
        "deprecated",
    ),
    Endpoint(
        "getProvisioner",
        "queue",
        "GET",
        "/provisioners/<provisionerId>",
        "Get a provisioner.",
        None,
        q.Provisioner,
        "queue:get-provisioner:<provisionerId>",
        (),
        "deprecated",
    ),
    Endpoint(
        "listWorkerTypes",
        "queue",
        "GET",
        "/provisioners/<provisionerId>/worker-types",
        "List the worker types of a provisioner.",
        None,
        q.ListWorkerTypesResponse,
        "queue:list-worker-types:<provisionerId>",
        PAGE,
        "deprecated",
    ),
    Endpoint(
        "getWorkerType",
        "queue",
        "GET",
        "/provisioners/<provisionerId>/worker-types/<workerType>",
        "Get a worker type.",
        None,
        q.WorkerType,
        "queue:get-worker-type:<provisionerId>/<workerType>",
        (),
        "deprecated",
    ),
    Endpoint(
        "listWorkers",
        "queue",
        "GET",
        "/provisioners/<provisionerId>/worker-types/<workerType>/workers",
        "List the workers seen for a worker type.",
        None,
        q.ListWorkersResponse,
        "queue:list-workers:<provisionerId>/<workerType>",
        (*PAGE, "quarantined"),
        "deprecated",
    ),
    Endpoint(
        "getWorker",
        "queue",
        "GET",
        "/provisioners/<provisionerId>/worker-types/<workerType>/workers/<workerGroup>/<workerId>",
        "Get a worker.",
        None,
        q.WorkerResponse,
        f"queue:get-worker:{_WORKER}",
        (),
        "deprecated",
    ),
    Endpoint(
        "quarantineWorker",
        "queue",
        "PUT",
        "/provisioners/<provisionerId>/worker-types/<workerType>/workers/<workerGroup>/<workerId>",
        "Quarantine a worker: it claims nothing until the given time.",
        q.QuarantineWorkerRequest,
        q.WorkerResponse,
        f"queue:quarantine-worker:{_WORKER}",
        (),
        "experimental",
    ),
    Endpoint(
        "declareWorker",
        "queue",
        "PUT",
        "/provisioners/<provisionerId>/worker-types/<workerType>/<workerGroup>/<workerId>",
        "Declare a worker and its properties.",
        q.DeclareWorkerRequest,
        q.WorkerResponse,
        {
            "AllOf": [
                {
                    "for": "property",
                    "in": "properties",
                    "each": f"queue:declare-worker:{_WORKER}#<property>",
                }
            ]
        },
        (),
        "experimental",
    ),
    # -- event stream -------------------------------------------------------------------------
    Endpoint(
        "events",
        "queue",
        "GET",
        "/events",
        "Receive the queue's messages live over a websocket, by exchange and routing key.",
        None,
        None,
        {"AllOf": []},  # anyone may connect; each message is checked against its read scope
        websocket=True,
    ),
    # -- live logs, shells and the relay (infrax extension) -------------------------------------
    Endpoint(
        "relay",
        "queue",
        "GET",
        "/relay/<workerGroup>/<workerId>",
        "A worker's relay connection: viewers' live-log and shell streams multiplexed over it.",
        None,
        None,
        "queue:worker-id:<workerGroup>/<workerId>",
        stability="experimental",
        websocket=True,
    ),
    Endpoint(
        "liveLog",
        "queue",
        "GET",
        "/task/<taskId>/runs/<runId>/live-log/<secret>",
        "A running task's log through the relay: a chunked GET from byte 0, or a websocket"
        " from `offset`, following until the log ends.",
        None,
        None,
        {"AllOf": []},  # the secret in the URL is the authority, checked by the worker
        ("offset", "follow"),
        stability="experimental",
        websocket=True,
    ),
    Endpoint(
        "shell",
        "queue",
        "GET",
        "/task/<taskId>/runs/<runId>/shell/<secret>",
        "An interactive shell in a running task through the relay (generic-worker v2 frames).",
        None,
        None,
        {"AllOf": []},  # the secret in the URL is the authority, checked by the worker
        stability="experimental",
        websocket=True,
    ),
    # -- the API, described ------------------------------------------------------------------
    Endpoint(
        "openapi",
        "queue",
        "GET",
        "/openapi.json",
        "This API as an OpenAPI 3.1 document, generated from the endpoint table.",
        None,
        dict[str, Any],
    ),
    # -- health -------------------------------------------------------------------------------
    Endpoint(
        "ping", "queue", "GET", "/ping", "Answer that the server is alive.", None, q.PingResponse
    ),
    Endpoint(
        "heartbeat",
        "queue",
        "GET",
        "/__heartbeat__",
        "Answer 200 when the server and its database are healthy.",
        None,
        q.HeartbeatResponse,
    ),
    Endpoint(
        "lbheartbeat",
        "queue",
        "GET",
        "/__lbheartbeat__",
        "Answer 200 while the process runs (for load balancers).",
        None,
        q.HeartbeatResponse,
    ),
    Endpoint(
        "version", "queue", "GET", "/__version__", "The server's version.", None, q.VersionResponse
    ),
    # -- objects (Object v1 subset) -------------------------------------------------------------------
    Endpoint(
        "createUpload",
        "object",
        "PUT",
        "/upload/<name>",
        "Begin (or renew) the upload of an object, negotiating the upload method.",
        o.CreateUploadRequest,
        o.CreateUploadResponse,
        "object:upload:<projectId>:<name>",
    ),
    Endpoint(
        "finishUpload",
        "object",
        "POST",
        "/finish-upload/<name>",
        "Mark an object's upload complete; the object is immutable afterwards.",
        o.FinishUploadRequest,
        o.FinishUploadResponse,
        "object:upload:<projectId>:<name>",
    ),
    Endpoint(
        "startDownload",
        "object",
        "PUT",
        "/start-download/<name>",
        "Choose a download method for an object and answer how to use it.",
        o.StartDownloadRequest,
        o.StartDownloadResponse,
        "object:download:<name>",
    ),
    Endpoint(
        "object",
        "object",
        "GET",
        "/metadata/<name>",
        "An object's metadata: projectId, expires and hashes.",
        None,
        o.ObjectMetadata,
        "object:download:<name>",
    ),
    # -- clients (Auth v1 subset) -------------------------------------------------------------------
    Endpoint(
        "listClients",
        "auth",
        "GET",
        "/clients/",
        "List clients.",
        None,
        auth.ListClientsResponse,
        "auth:list-clients",
        (*PAGE, "prefix"),
    ),
    Endpoint(
        "client",
        "auth",
        "GET",
        "/clients/<clientId>",
        "Get a client.",
        None,
        auth.Client,
        "auth:get-client:<clientId>",
    ),
    Endpoint(
        "createClient",
        "auth",
        "PUT",
        "/clients/<clientId>",
        "Create a client; its access token is returned once.",
        auth.CreateClientRequest,
        auth.ClientWithToken,
        {
            "AllOf": [
                "auth:create-client:<clientId>",
                {"for": "scope", "in": "scopes", "each": "<scope>"},
            ]
        },
    ),
    Endpoint(
        "resetAccessToken",
        "auth",
        "POST",
        "/clients/<clientId>/reset",
        "Give a client a new access token.",
        None,
        auth.ClientWithToken,
        "auth:reset-access-token:<clientId>",
    ),
    Endpoint(
        "deleteClient",
        "auth",
        "DELETE",
        "/clients/<clientId>",
        "Delete a client.",
        None,
        None,
        "auth:delete-client:<clientId>",
    ),
    Endpoint(
        "currentScopes",
        "auth",
        "GET",
        "/scopes/current",
        "The caller's scopes, expanded.",
        None,
        auth.CurrentScopesResponse,
        {"AllOf": []},
    ),
    Endpoint(
        "authenticateHawk",
        "auth",
        "POST",
        "/authenticate-hawk",
        "Verify a Hawk-signed request another service received; answer its caller's scopes.",
        auth.AuthenticateHawkRequest,
        auth.AuthenticateHawkResponse,
    ),
)

_BY_NAME = {endpoint.name: endpoint for endpoint in ENDPOINTS}
assert len(_BY_NAME) == len(ENDPOINTS), "endpoint names must be unique"


def by_name(name: str) -> Endpoint:
    return _BY_NAME[name]
