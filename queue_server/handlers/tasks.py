"""Handlers of the task endpoints (protocol.md, "Tasks")."""

from __future__ import annotations

from clients.protocol import tasks as t
from clients.protocol.errors import ApiError, ErrorCode, input_error, not_found

from ..core.lifecycle import TaskRecord
from ..core.pages import encode_token, page_from_query
from ..core.taskdef import creator_priorities, normalize_task
from ..dispatch import Call, handles
from ..keys import SETTINGS, STORE

__all__: list[str] = []


@handles("createTask")
async def create_task(call: Call) -> t.TaskStatusResponse:
    request: t.CreateTaskRequest = call.body
    settings = call.app[SETTINGS]
    now = call.now_ms()
    task, times = normalize_task(
        call.params["taskId"],
        request,
        now_ms=now,
        max_deadline_ms=int(settings.max_deadline_days * 86_400_000),
    )
    call.authorize(
        scopes=task.scopes,
        routes=task.routes,
        projectId=task.project_id,
        schedulerId=task.scheduler_id,
        taskQueueId=task.task_queue_id,
        priorities=creator_priorities(task.priority),
    )
    if len(task.dependencies) > settings.max_dependencies:
        raise input_error(
            f"a task may have at most {settings.max_dependencies} dependencies",
            path="$.dependencies",
        )
    status = await call.app[STORE].create_task(
        call.params["taskId"], task, times.deadline, times.expires, now
    )
    return t.TaskStatusResponse(status=status)


async def _task_and_status(call: Call) -> t.TaskAndStatus:
    found = await call.app[STORE].get_record(call.params["taskId"])
    if found is None:
        raise not_found(f"task {call.params['taskId']} not found")
    return found


@handles("task")
async def task(call: Call) -> t.Task:
    call.authorize()
    return (await _task_and_status(call)).task


@handles("status")
async def status(call: Call) -> t.TaskStatusResponse:
    call.authorize()
    return t.TaskStatusResponse(status=(await _task_and_status(call)).status)


def _window(call: Call, ids: list[str]) -> tuple[list[str], str | None]:
    """taskIds of this page and the token for the next, for `tasks` and `statuses`."""
    page = page_from_query(call.request.query)
    (start,) = page.key((0,))
    if start < 0:
        raise ApiError(ErrorCode.invalid_request_arguments, "`continuationToken` is not valid")
    end = start + page.limit
    return ids[start:end], (None if end >= len(ids) else str(end))


@handles("tasks")
async def tasks(call: Call) -> t.TasksResponse:
    request: t.TaskIdsRequest = call.body
    call.authorize(taskIds=request.task_ids)
    ids, more = _window(call, request.task_ids)
    found = await call.app[STORE].get_records(ids)
    reply = t.TasksResponse(
        tasks=[t.TaskWithId(task_id=f.status.task_id, task=f.task) for f in found]
    )
    if more is not None:
        reply.continuation_token = _token(more)
    return reply


@handles("statuses")
async def statuses(call: Call) -> t.TaskStatusesResponse:
    request: t.TaskIdsRequest = call.body
    call.authorize(taskIds=request.task_ids)
    ids, more = _window(call, request.task_ids)
    found = await call.app[STORE].get_records(ids)
    reply = t.TaskStatusesResponse(
        statuses=[t.StatusWithId(task_id=f.status.task_id, status=f.status) for f in found]
    )
    if more is not None:
        reply.continuation_token = _token(more)
    return reply


def _token(offset: str) -> str:
    return encode_token([int(offset)])


async def _authorize_task_action(call: Call) -> None:
    found = await _task_and_status(call)
    call.authorize(
        schedulerId=found.task.scheduler_id,
        taskGroupId=found.task.task_group_id,
        projectId=found.task.project_id,
        taskQueueId=found.task.task_queue_id,
    )


@handles("scheduleTask")
async def schedule_task(call: Call) -> t.TaskStatusResponse:
    await _authorize_task_action(call)
    status = await call.app[STORE].schedule_task(call.params["taskId"], call.now_ms())
    return t.TaskStatusResponse(status=status)


@handles("rerunTask")
async def rerun_task(call: Call) -> t.TaskStatusResponse:
    await _authorize_task_action(call)
    status = await call.app[STORE].rerun_task(call.params["taskId"], call.now_ms())
    return t.TaskStatusResponse(status=status)


@handles("rerunSubtree")
async def rerun_subtree(call: Call) -> t.RerunSubtreeResponse:
    """Scopes cover every task that will rerun; checked inside the transaction that
    computes them, so nothing changes when one is missing (protocol.md, "rerunSubtree")."""

    def authorize(records: list[TaskRecord]) -> None:
        call.authorize(
            tasks=[f"{r.task.scheduler_id}/{r.task.task_group_id}/{r.task_id}" for r in records],
            projects=sorted({r.task.project_id for r in records}),
        )

    status, waiting = await call.app[STORE].rerun_subtree(
        call.params["taskId"], call.now_ms(), authorize
    )
    return t.RerunSubtreeResponse(status=status, waiting=waiting)


@handles("cancelTask")
async def cancel_task(call: Call) -> t.TaskStatusResponse:
    await _authorize_task_action(call)
    status = await call.app[STORE].cancel_task(call.params["taskId"], call.now_ms())
    return t.TaskStatusResponse(status=status)


@handles("changeTaskPriority")
async def change_task_priority(call: Call) -> t.TaskStatusResponse:
    request: t.ChangePriorityRequest = call.body
    await _authorize_task_action(call)
    status = await call.app[STORE].change_task_priority(
        call.params["taskId"], request.new_priority, call.now_ms()
    )
    return t.TaskStatusResponse(status=status)


@handles("listDependentTasks")
async def list_dependent_tasks(call: Call) -> t.ListDependentTasksResponse:
    call.authorize()
    await _task_and_status(call)
    found, token = await call.app[STORE].list_dependents(
        call.params["taskId"], page_from_query(call.request.query)
    )
    reply = t.ListDependentTasksResponse(task_id=call.params["taskId"], tasks=found)
    if token is not None:
        reply.continuation_token = token
    return reply
