"""Wire types of the Hooks v1 API served by the scheduler (protocol.md, "Hooks").

Shapes follow Taskcluster's hook-definition, create-hook-request, trigger-hook-response and
last-fire schemas. Requests forbid unknown fields; responses tolerate them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType, field

__all__ = [
    "DEFAULT_TRIGGER_SCHEMA",
    "FIRED_BY",
    "HOOK_GROUP_ID_PATTERN",
    "HOOK_ID_PATTERN",
    "Binding",
    "FiredBy",
    "HookCreationRequest",
    "HookDefinition",
    "HookGroups",
    "HookList",
    "HookMetadata",
    "HookStatus",
    "LastFire",
    "LastFiresResponse",
    "TriggerHookResponse",
    "TriggerTokenResponse",
]

HOOK_GROUP_ID_PATTERN = r"^[a-zA-Z0-9-_]{1,1000}$"
HOOK_ID_PATTERN = r"^[a-zA-Z0-9-_/]{1,1000}$"

# `githubWebhook` is an infrax extension: a signed GitHub delivery (protocol.md, "githubWebhook").
FiredBy = Literal[
    "schedule", "triggerHook", "triggerHookWithToken", "pulseMessage", "githubWebhook"
]
FIRED_BY: tuple[str, ...] = FiredBy.__args__  # type: ignore[attr-defined]


def _default_trigger_schema() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False}


DEFAULT_TRIGGER_SCHEMA: dict[str, Any] = _default_trigger_schema()

NonEmpty = Annotated[str, Meta(min_length=1)]


class HookMetadata(Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    name: Annotated[str, Meta(max_length=255)]
    description: Annotated[str, Meta(max_length=32768)]
    owner: Annotated[str, Meta(max_length=255)]
    email_on_error: bool = True


class Binding(Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    exchange: NonEmpty
    routing_key_pattern: NonEmpty


class HookCreationRequest(Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    metadata: HookMetadata
    task: dict[str, Any]
    hook_group_id: str | UnsetType = UNSET
    hook_id: str | UnsetType = UNSET
    bindings: list[Binding] | UnsetType = UNSET
    schedule: list[str] = field(default_factory=list)
    trigger_schema: dict[str, Any] = field(default_factory=_default_trigger_schema)


class HookDefinition(Struct, kw_only=True, rename="camel"):
    hook_group_id: str
    hook_id: str
    metadata: HookMetadata
    schedule: list[str]
    task: dict[str, Any]
    trigger_schema: dict[str, Any]
    bindings: list[Binding] = field(default_factory=list)


class HookGroups(Struct, kw_only=True):
    groups: list[str]


class HookList(Struct, kw_only=True):
    hooks: list[HookDefinition]


class TriggerTokenResponse(Struct, kw_only=True):
    token: str


class _TaskIdOnly(Struct, kw_only=True, rename="camel"):
    task_id: str


class TriggerHookResponse(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """`{taskId, status: {taskId}}`, or `{}` when the template rendered to null."""

    task_id: str | UnsetType = UNSET
    status: _TaskIdOnly | UnsetType = UNSET

    @classmethod
    def created(cls, task_id: str) -> TriggerHookResponse:
        return cls(task_id=task_id, status=_TaskIdOnly(task_id=task_id))


class LastFire(Struct, kw_only=True, rename="camel"):
    hook_group_id: str
    hook_id: str
    fired_by: str
    task_id: str
    task_create_time: str
    result: Literal["success", "error"]
    error: str
    task_state: str


class LastFiresResponse(Struct, kw_only=True, rename="camel", omit_defaults=True):
    last_fires: list[LastFire]
    continuation_token: str | UnsetType = UNSET


class HookStatus(Struct, kw_only=True, rename="camel", omit_defaults=True):
    last_fire: dict[str, Any]
    next_scheduled_date: str | UnsetType = UNSET
