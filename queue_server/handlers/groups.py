"""Handlers of the task-group endpoints (protocol.md, "Task groups")."""

from __future__ import annotations

from clients.protocol import tasks as t
from clients.protocol.errors import not_found
from clients.protocol.times import format_ms

from ..core.pages import page_from_query
from ..dispatch import Call, handles
from ..keys import STORE

__all__: list[str] = []


async def _group(call: Call) -> t.TaskGroup:
    group_id = call.params["taskGroupId"]
    row = await call.app[STORE].get_task_group(group_id)
    if row is None:
        raise not_found(f"task group {group_id} not found")
    return group_of_row(group_id, row)


def group_of_row(group_id: str, row: tuple[str, int, int | None]) -> t.TaskGroup:
    scheduler_id, expires, sealed = row
    group = t.TaskGroup(
        task_group_id=group_id, scheduler_id=scheduler_id, expires=format_ms(expires)
    )
    if sealed is not None:
        group.sealed = format_ms(sealed)
    return group


@handles("getTaskGroup")
async def get_task_group(call: Call) -> t.TaskGroup:
    call.authorize()
    return await _group(call)


@handles("listTaskGroup")
async def list_task_group(call: Call) -> t.ListTaskGroupResponse:
    call.authorize()
    group = await _group(call)
    found, token = await call.app[STORE].list_task_group(
        group.task_group_id, page_from_query(call.request.query)
    )
    reply = t.ListTaskGroupResponse(
        task_group_id=group.task_group_id,
        scheduler_id=group.scheduler_id,
        expires=group.expires,
        sealed=group.sealed,
        tasks=found,
    )
    if token is not None:
        reply.continuation_token = token
    return reply


@handles("sealTaskGroup")
async def seal_task_group(call: Call) -> t.TaskGroup:
    group = await _group(call)
    call.authorize(schedulerId=group.scheduler_id)
    row = await call.app[STORE].seal_task_group(group.task_group_id, call.now_ms())
    return group_of_row(group.task_group_id, row)


@handles("cancelTaskGroup")
async def cancel_task_group(call: Call) -> t.CancelTaskGroupResponse:
    group = await _group(call)
    call.authorize(schedulerId=group.scheduler_id)
    size, canceled = await call.app[STORE].cancel_task_group(group.task_group_id, call.now_ms())
    return t.CancelTaskGroupResponse(
        task_group_id=group.task_group_id,
        task_group_size=size,
        cancelled_count=len(canceled),
        task_ids=canceled,
    )


@handles("changeTaskGroupPriority")
async def change_task_group_priority(call: Call) -> t.ChangeTaskGroupPriorityResponse:
    request: t.ChangePriorityRequest = call.body
    group = await _group(call)
    call.authorize(schedulerId=group.scheduler_id)
    scheduler_id, changed = await call.app[STORE].change_task_group_priority(
        group.task_group_id, request.new_priority, call.now_ms()
    )
    return t.ChangeTaskGroupPriorityResponse(
        task_group_id=group.task_group_id,
        scheduler_id=scheduler_id,
        new_priority=request.new_priority,
        tasks_affected=len(changed),
        task_ids=changed,
    )
