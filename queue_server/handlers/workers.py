"""Handlers of task queues, counts, provisioners, worker types and workers (protocol.md)."""

from __future__ import annotations

import msgspec
from msgspec import UNSET

from clients.protocol import queues as q
from clients.protocol.errors import ApiError, ErrorCode, input_error, not_found
from clients.protocol.ids import join_task_queue_id, split_task_queue_id
from clients.protocol.times import format_ms, parse_time

from ..core.pages import page_from_query
from ..dispatch import Call, handles
from ..keys import STORE

__all__: list[str] = []


@handles("pendingTasks")
async def pending_tasks(call: Call) -> q.PendingTasksResponse:
    call.authorize()
    (counts,) = await call.app[STORE].counts([call.params["taskQueueId"]])
    return q.PendingTasksResponse(
        provisioner_id=counts.provisioner_id,
        worker_type=counts.worker_type,
        task_queue_id=counts.task_queue_id,
        pending_tasks=counts.pending_tasks,
    )


@handles("taskQueueCounts")
async def task_queue_counts(call: Call) -> q.TaskQueueCounts:
    call.authorize()
    (counts,) = await call.app[STORE].counts([call.params["taskQueueId"]])
    return counts


@handles("taskQueueCountsBatch")
async def task_queue_counts_batch(call: Call) -> q.CountsBatchResponse:
    request: q.CountsBatchRequest = call.body
    ids = request.task_queue_ids
    if len(set(ids)) != len(ids):
        raise input_error("`taskQueueIds` must be unique", path="$.taskQueueIds")
    for index, queue in enumerate(ids):
        if split_task_queue_id(queue) is None:
            raise input_error(f"{queue!r} is not a taskQueueId", path=f"$.taskQueueIds[{index}]")
    call.authorize(taskQueueIds=ids)
    return q.CountsBatchResponse(task_queue_counts=await call.app[STORE].counts(ids))


@handles("listPendingTasks")
async def list_pending_tasks(call: Call) -> q.ListPendingTasksResponse:
    call.authorize()
    items, token = await call.app[STORE].list_pending(
        call.params["taskQueueId"], page_from_query(call.request.query)
    )
    reply = q.ListPendingTasksResponse(tasks=items)
    if token is not None:
        reply.continuation_token = token
    return reply


@handles("listClaimedTasks")
async def list_claimed_tasks(call: Call) -> q.ListClaimedTasksResponse:
    call.authorize()
    items, token = await call.app[STORE].list_claimed(
        call.params["taskQueueId"], page_from_query(call.request.query)
    )
    reply = q.ListClaimedTasksResponse(tasks=items)
    if token is not None:
        reply.continuation_token = token
    return reply


@handles("listTaskQueues")
async def list_task_queues(call: Call) -> q.ListTaskQueuesResponse:
    call.authorize()
    queues, token = await call.app[STORE].list_task_queues(
        "", page_from_query(call.request.query), call.now_ms()
    )
    reply = q.ListTaskQueuesResponse(task_queues=queues)
    if token is not None:
        reply.continuation_token = token
    return reply


async def _task_queue(call: Call, task_queue_id: str) -> q.TaskQueue:
    queue = await call.app[STORE].get_task_queue(task_queue_id, call.now_ms())
    if queue is None:
        raise not_found(f"task queue {task_queue_id} not found")
    return queue


@handles("getTaskQueue")
async def get_task_queue(call: Call) -> q.TaskQueue:
    call.authorize()
    return await _task_queue(call, call.params["taskQueueId"])


@handles("listProvisioners")
async def list_provisioners(call: Call) -> q.ListProvisionersResponse:
    call.authorize()
    rows, token = await call.app[STORE].list_provisioners(
        page_from_query(call.request.query), call.now_ms()
    )
    reply = q.ListProvisionersResponse(
        provisioners=[
            q.Provisioner(
                provisioner_id=name,
                stability="experimental",
                description="",
                expires=format_ms(expires),
                last_date_active=format_ms(active),
            )
            for name, expires, active in rows
        ]
    )
    if token is not None:
        reply.continuation_token = token
    return reply


@handles("getProvisioner")
async def get_provisioner(call: Call) -> q.Provisioner:
    call.authorize()
    prov = call.params["provisionerId"]
    queues, _ = await call.app[STORE].list_task_queues(
        f"{prov}/", page_from_query({}), call.now_ms()
    )
    if not queues:
        raise not_found(f"provisioner {prov} not found")
    return q.Provisioner(
        provisioner_id=prov,
        stability="experimental",
        description="",
        expires=max(queue.expires for queue in queues),
        last_date_active=max(queue.last_date_active for queue in queues),
    )


def _worker_type(queue: q.TaskQueue) -> q.WorkerType:
    prov, wtype = split_task_queue_id(queue.task_queue_id) or ("", "")
    return q.WorkerType(
        provisioner_id=prov,
        worker_type=wtype,
        stability=queue.stability,
        description=queue.description,
        expires=queue.expires,
        last_date_active=queue.last_date_active,
    )


@handles("listWorkerTypes")
async def list_worker_types(call: Call) -> q.ListWorkerTypesResponse:
    call.authorize()
    queues, token = await call.app[STORE].list_task_queues(
        f"{call.params['provisionerId']}/", page_from_query(call.request.query), call.now_ms()
    )
    reply = q.ListWorkerTypesResponse(worker_types=[_worker_type(queue) for queue in queues])
    if token is not None:
        reply.continuation_token = token
    return reply


def _queue_id(call: Call) -> str:
    return join_task_queue_id(call.params["provisionerId"], call.params["workerType"])


@handles("getWorkerType")
async def get_worker_type(call: Call) -> q.WorkerType:
    call.authorize()
    return _worker_type(await _task_queue(call, _queue_id(call)))


@handles("listWorkers")
async def list_workers(call: Call) -> q.ListWorkersResponse:
    call.authorize()
    flag = call.request.query.get("quarantined")
    if flag not in (None, "true", "false"):
        raise ApiError(ErrorCode.invalid_request_arguments, "`quarantined` must be true or false")
    quarantined = None if flag is None else flag == "true"
    workers, token = await call.app[STORE].list_workers(
        _queue_id(call), quarantined, page_from_query(call.request.query), call.now_ms()
    )
    reply = q.ListWorkersResponse(workers=workers)
    if token is not None:
        reply.continuation_token = token
    return reply


async def _worker(call: Call) -> q.WorkerResponse:
    worker = await call.app[STORE].get_worker(
        _queue_id(call), call.params["workerGroup"], call.params["workerId"], call.now_ms()
    )
    if worker is None:
        raise not_found(
            f"worker {call.params['workerGroup']}/{call.params['workerId']} of {_queue_id(call)} not found"
        )
    return worker


@handles("getWorker")
async def get_worker(call: Call) -> q.WorkerResponse:
    call.authorize()
    return await _worker(call)


def _time(value: str, path: str) -> int:
    try:
        return parse_time(value)
    except ValueError:
        raise input_error(f"{value!r} is not a valid date-time", path=path) from None


@handles("quarantineWorker")
async def quarantine_worker(call: Call) -> q.WorkerResponse:
    request: q.QuarantineWorkerRequest = call.body
    call.authorize()
    until = _time(request.quarantine_until, "$.quarantineUntil")
    now = call.now_ms()
    detail: dict[str, object] = {
        "clientId": call.caller.client_id,
        "quarantineUntil": format_ms(until),
        "updatedAt": format_ms(now),
        "quarantineInfo": request.quarantine_info,
    }
    found = await call.app[STORE].quarantine_worker(
        _queue_id(call), call.params["workerGroup"], call.params["workerId"], until, detail, now
    )
    if not found:
        await _worker(call)  # raises the 404
    return await _worker(call)


@handles("declareWorker")
async def declare_worker(call: Call) -> q.WorkerResponse:
    request: q.DeclareWorkerRequest = call.body
    # `expires` is required even when omitted (as before); `host`, an infrax extension, only
    # when declared, so callers holding just `#expires` keep working.
    properties = ["expires"] if request.host is UNSET else ["expires", "host"]
    call.authorize(properties=properties)
    expires = None if request.expires is UNSET else _time(request.expires, "$.expires")
    host = None if request.host is UNSET else msgspec.json.encode(request.host)
    await call.app[STORE].declare_worker(
        _queue_id(call),
        call.params["workerGroup"],
        call.params["workerId"],
        expires,
        call.now_ms(),
        host,
    )
    return await _worker(call)
