"""Handlers that fire hooks from the API, and the record of fires (protocol.md, "Hooks")."""

from __future__ import annotations

import base64
import hmac
from typing import Any

from clients.client import ClientError
from clients.protocol import hooks as h
from clients.protocol.errors import ApiError, ErrorCode, input_error, not_found
from clients.protocol.ids import is_slugid, new_slugid
from clients.protocol.times import format_ms

from ..core.templates import TriggerSchemaError, validate_payload
from ..dispatch import Call, handles
from ..keys import FIRER, QUEUE, STORE
from ..store import FireRow, HookRow

__all__: list[str] = ["fire_from_api"]

MAX_FIRES_PAGE = 1000


async def _row(call: Call) -> HookRow:
    row = await call.app[STORE].get_hook(call.params["hookGroupId"], call.params["hookId"])
    if row is None:
        raise not_found("No such hook")
    return row


async def fire_from_api(
    call: Call, row: HookRow, fired_by: str, payload: Any, client_id: str | None = None
) -> h.TriggerHookResponse:
    """Validate the payload, fire, record; the queue's refusal becomes this call's error."""
    try:
        validate_payload(row.definition.trigger_schema, payload)
    except TriggerSchemaError as error:
        raise input_error(str(error)) from None
    given = payload.get("taskId") if isinstance(payload, dict) else None
    if given is not None and not (isinstance(given, str) and is_slugid(given)):
        raise input_error("Invalid taskId format")
    task_id = given if isinstance(given, str) else new_slugid()
    outcome = await call.app[FIRER].fire_and_record(
        row.definition, fired_by, task_id, payload, client_id
    )
    if outcome.kind == "null":
        return h.TriggerHookResponse()
    if outcome.error is not None:
        raise outcome.error
    return h.TriggerHookResponse.created(task_id)


@handles("triggerHook")
async def trigger_hook(call: Call) -> h.TriggerHookResponse:
    call.authorize()
    row = await _row(call)
    return await fire_from_api(call, row, "triggerHook", call.body, call.caller.client_id)


@handles("triggerHookWithToken")
async def trigger_hook_with_token(call: Call) -> h.TriggerHookResponse:
    row = await _row(call)
    if not hmac.compare_digest(row.token.encode(), call.params["token"].encode()):
        raise ApiError(ErrorCode.authentication_failed, "invalid hook token")
    return await fire_from_api(call, row, "triggerHookWithToken", call.body)


def _token(seq: int) -> str:
    return base64.urlsafe_b64encode(str(seq).encode()).decode().rstrip("=")


def _seq(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    except ValueError:
        raise ApiError(
            ErrorCode.invalid_request_arguments, "`continuationToken` is not valid"
        ) from None


def _limit(text: str | None) -> int:
    if text is None:
        return MAX_FIRES_PAGE
    if not text.isdigit() or int(text) < 1:
        raise ApiError(ErrorCode.invalid_request_arguments, "`limit` must be a positive integer")
    return min(int(text), MAX_FIRES_PAGE)


async def _task_states(call: Call, fires: list[FireRow]) -> dict[str, str]:
    """The last run state of each fired task from the queue; `unknown` when it has none."""
    ids = sorted({fire.task_id for fire in fires if fire.result == "success"})
    if not ids:
        return {}
    try:
        answer = await call.app[QUEUE].statuses(ids)
    except ClientError:
        return {}
    return {item.task_id: item.status.state.value for item in answer.statuses}


@handles("listLastFires")
async def list_last_fires(call: Call) -> h.LastFiresResponse:
    call.authorize()
    query = call.request.query
    token = query.get("continuationToken")
    limit = _limit(query.get("limit"))
    fires = await call.app[STORE].list_fires(
        call.params["hookGroupId"], call.params["hookId"], _seq(token) if token else None, limit
    )
    if not fires:
        raise not_found("No such hook or never fired")
    page, more = fires[:limit], len(fires) > limit
    states = await _task_states(call, page)
    reply = h.LastFiresResponse(
        last_fires=[
            h.LastFire(
                hook_group_id=f.hook_group_id,
                hook_id=f.hook_id,
                fired_by=f.fired_by,
                task_id=f.task_id,
                task_create_time=format_ms(f.fired_at),
                result="success" if f.result == "success" else "error",
                error=f.error,
                task_state=states.get(f.task_id, "unknown"),
            )
            for f in page
        ]
    )
    if more:
        reply.continuation_token = _token(page[-1].seq)
    return reply
