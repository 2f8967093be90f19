"""The Hooks v1 endpoint table, served by the scheduler (protocol.md, "Hooks").

Declared in the style of endpoints.py: each endpoint once, with its route, types and scopes.
Routes sit under `<rootUrl>/api/hooks/v1`. `githubWebhook` is an infrax extension, marked as
such in protocol.md.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from . import hooks as h
from . import queues as q
from .endpoints import PAGE, Endpoint

__all__ = ["HOOK_ENDPOINTS", "GithubWebhookResponse", "RemoveHookResponse", "hook_endpoint"]


class RemoveHookResponse(Struct, kw_only=True):
    """removeHook answers 200 `{}`, even for an unknown hook."""


class GithubWebhookResponse(Struct, kw_only=True, rename="camel", omit_defaults=True):
    message: str
    task_id: str = ""


_HOOK = "<hookGroupId>/<hookId>"
_MODIFY = {"AllOf": [f"hooks:modify-hook:{_HOOK}", f"assume:hook-id:{_HOOK}"]}
_BASE = "/hooks/<hookGroupId>/<hookId>"

HOOK_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "listHookGroups",
        "hooks",
        "GET",
        "/hooks",
        "List the hook groups that hold at least one hook.",
        None,
        h.HookGroups,
        "hooks:list-hooks:",
    ),
    Endpoint(
        "listHooks",
        "hooks",
        "GET",
        "/hooks/<hookGroupId>",
        "List the hooks of a group.",
        None,
        h.HookList,
        "hooks:list-hooks:<hookGroupId>",
    ),
    Endpoint(
        "hook",
        "hooks",
        "GET",
        _BASE,
        "Get a hook definition.",
        None,
        h.HookDefinition,
        "hooks:get:<hookGroupId>:<hookId>",
    ),
    Endpoint(
        "getHookStatus",
        "hooks",
        "GET",
        f"{_BASE}/status",
        "The last fire of a hook and its next scheduled date.",
        None,
        h.HookStatus,
        f"hooks:status:{_HOOK}",
        (),
        "deprecated",
    ),
    Endpoint(
        "createHook",
        "hooks",
        "PUT",
        _BASE,
        "Create a hook, idempotently.",
        h.HookCreationRequest,
        h.HookDefinition,
        _MODIFY,
    ),
    Endpoint(
        "updateHook",
        "hooks",
        "POST",
        _BASE,
        "Replace a hook's definition.",
        h.HookCreationRequest,
        h.HookDefinition,
        _MODIFY,
    ),
    Endpoint(
        "removeHook",
        "hooks",
        "DELETE",
        _BASE,
        "Delete a hook and its fire records.",
        None,
        RemoveHookResponse,
        f"hooks:modify-hook:{_HOOK}",
    ),
    Endpoint(
        "triggerHook",
        "hooks",
        "POST",
        f"{_BASE}/trigger",
        "Fire a hook with a payload.",
        dict[str, Any],
        h.TriggerHookResponse,
        f"hooks:trigger-hook:{_HOOK}",
    ),
    Endpoint(
        "getTriggerToken",
        "hooks",
        "GET",
        f"{_BASE}/token",
        "Get the hook's secret trigger token.",
        None,
        h.TriggerTokenResponse,
        f"hooks:get-trigger-token:{_HOOK}",
    ),
    Endpoint(
        "resetTriggerToken",
        "hooks",
        "POST",
        f"{_BASE}/token",
        "Replace the hook's trigger token; the old one stops working.",
        None,
        h.TriggerTokenResponse,
        f"hooks:reset-trigger-token:{_HOOK}",
    ),
    Endpoint(
        "triggerHookWithToken",
        "hooks",
        "POST",
        f"{_BASE}/trigger/<token>",
        "Fire a hook; the token in the URL authorizes the call.",
        dict[str, Any],
        h.TriggerHookResponse,
    ),
    Endpoint(
        "listLastFires",
        "hooks",
        "GET",
        f"{_BASE}/last-fires",
        "The hook's recent fires, newest first, with their results.",
        None,
        h.LastFiresResponse,
        f"hooks:list-last-fires:{_HOOK}",
        PAGE,
    ),
    Endpoint(
        "githubWebhook",
        "hooks",
        "POST",
        f"{_BASE}/github",
        "Fire a hook from a GitHub delivery signed with the hook's trigger token.",
        None,
        GithubWebhookResponse,
        None,
        (),
        "experimental",
    ),
    Endpoint(
        "ping", "hooks", "GET", "/ping", "Answer that the scheduler is alive.", None, q.PingResponse
    ),
    Endpoint(
        "heartbeat",
        "hooks",
        "GET",
        "/__heartbeat__",
        "Answer 200 when the scheduler and its database are healthy.",
        None,
        q.HeartbeatResponse,
    ),
    Endpoint(
        "lbheartbeat",
        "hooks",
        "GET",
        "/__lbheartbeat__",
        "Answer 200 while the process runs (for load balancers).",
        None,
        q.HeartbeatResponse,
    ),
)

_BY_NAME = {endpoint.name: endpoint for endpoint in HOOK_ENDPOINTS}
assert len(_BY_NAME) == len(HOOK_ENDPOINTS), "endpoint names must be unique"


def hook_endpoint(name: str) -> Endpoint:
    return _BY_NAME[name]
