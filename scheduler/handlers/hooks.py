"""Handlers of hook management (protocol.md, "Hooks"): create, update, remove, read, tokens."""

from __future__ import annotations

import json
import re
import secrets
import time

from msgspec import UNSET

from clients.protocol import hooks as h
from clients.protocol.errors import input_error, not_found
from clients.protocol.hook_endpoints import RemoveHookResponse
from clients.protocol.ids import new_slugid
from clients.protocol.routing import pattern_problem
from clients.protocol.times import format_ms

from ..core.cron import ScheduleError, check_schedule, next_tick
from ..core.templates import TriggerSchemaError, check_trigger_schema
from ..dispatch import Call, handles
from ..keys import BINDINGS, CRON, STORE
from ..store import HookRow

__all__: list[str] = []

# Bindings that could make a task or a hook change fire hooks without end ("task bombs").
DENIED_EXCHANGES = (
    re.compile(r"exchange/taskcluster-queue/v1/task-defined"),
    re.compile(r"exchange/taskcluster-queue/v1/task-created"),
    re.compile(r"exchange/taskcluster-hooks/.*"),
)


def new_token() -> str:
    return secrets.token_urlsafe(33)


def _definition(call: Call, request: h.HookCreationRequest) -> h.HookDefinition:
    """The definition the request asks for, after Taskcluster's checks, in its order."""
    group, hook_id = call.params["hookGroupId"], call.params["hookId"]
    if request.hook_group_id is not UNSET and request.hook_group_id != group:
        raise input_error("Hook Group Ids do not match")
    if request.hook_id is not UNSET and request.hook_id != hook_id:
        raise input_error("Hook Ids do not match")
    call.authorize()
    try:
        check_schedule(request.schedule)
        check_trigger_schema(request.trigger_schema)
    except (ScheduleError, TriggerSchemaError) as error:
        raise input_error(str(error)) from None
    bindings = [] if request.bindings is UNSET else request.bindings
    for binding in bindings:
        if any(p.match(binding.exchange) for p in DENIED_EXCHANGES):
            raise input_error(f"binding to {binding.exchange} is not allowed")
        problem = pattern_problem(binding.routing_key_pattern)
        if problem is not None:
            raise input_error(problem, path="$.bindings")
    return h.HookDefinition(
        hook_group_id=group,
        hook_id=hook_id,
        metadata=request.metadata,
        schedule=list(request.schedule),
        task=request.task,
        trigger_schema=request.trigger_schema,
        bindings=bindings,
    )


async def _changed(call: Call, definition: h.HookDefinition | None) -> None:
    call.app[CRON].wake()
    if definition is None or definition.bindings:
        await call.app[BINDINGS].refresh()


def _now_ms() -> int:
    return int(time.time() * 1000)


async def _row(call: Call) -> HookRow:
    row = await call.app[STORE].get_hook(call.params["hookGroupId"], call.params["hookId"])
    if row is None:
        raise not_found("No such hook")
    return row


@handles("createHook")
async def create_hook(call: Call) -> h.HookDefinition:
    definition = _definition(call, call.body)
    row = HookRow(definition, new_token(), new_slugid(), next_tick(definition.schedule, _now_ms()))
    stored = await call.app[STORE].create_hook(row)
    await _changed(call, stored.definition)
    return stored.definition


@handles("updateHook")
async def update_hook(call: Call) -> h.HookDefinition:
    request: h.HookCreationRequest = call.body
    definition = _definition(call, request)
    existing = await _row(call)
    if request.bindings is UNSET:
        definition.bindings = existing.definition.bindings
    row = HookRow(definition, "", new_slugid(), next_tick(definition.schedule, _now_ms()))
    stored = await call.app[STORE].update_hook(row)
    if stored is None:
        raise not_found("No such hook")
    await _changed(call, stored.definition)
    return stored.definition


@handles("removeHook")
async def remove_hook(call: Call) -> RemoveHookResponse:
    call.authorize()
    await call.app[STORE].remove_hook(call.params["hookGroupId"], call.params["hookId"])
    await _changed(call, None)
    return RemoveHookResponse()


@handles("hook")
async def hook(call: Call) -> h.HookDefinition:
    call.authorize()
    return (await _row(call)).definition


@handles("listHookGroups")
async def list_hook_groups(call: Call) -> h.HookGroups:
    call.authorize()
    return h.HookGroups(groups=await call.app[STORE].list_groups())


@handles("listHooks")
async def list_hooks(call: Call) -> h.HookList:
    call.authorize()
    rows = await call.app[STORE].list_hooks(call.params["hookGroupId"])
    if not rows:
        raise not_found("No such group")
    return h.HookList(hooks=[row.definition for row in rows])


@handles("getTriggerToken")
async def get_trigger_token(call: Call) -> h.TriggerTokenResponse:
    call.authorize()
    return h.TriggerTokenResponse(token=(await _row(call)).token)


@handles("resetTriggerToken")
async def reset_trigger_token(call: Call) -> h.TriggerTokenResponse:
    call.authorize()
    token = new_token()
    if not await call.app[STORE].set_token(
        call.params["hookGroupId"], call.params["hookId"], token
    ):
        raise not_found("No such hook")
    return h.TriggerTokenResponse(token=token)


@handles("getHookStatus")
async def get_hook_status(call: Call) -> h.HookStatus:
    call.authorize()
    row = await _row(call)
    fires = await call.app[STORE].list_fires(
        call.params["hookGroupId"], call.params["hookId"], None, 0
    )
    last: dict[str, object] = {"result": "no-fire"}
    if fires:
        fire = fires[0]
        last = {"result": fire.result, "time": format_ms(fire.fired_at)}
        if fire.result == "success":
            last["taskId"] = fire.task_id
        else:
            last["error"] = _parsed(fire.error)
    status = h.HookStatus(last_fire=last)
    if row.definition.schedule and row.next_scheduled is not None:
        status.next_scheduled_date = format_ms(row.next_scheduled)
    return status


def _parsed(error: str) -> object:
    try:
        return json.loads(error)
    except ValueError:
        return {"message": error}
