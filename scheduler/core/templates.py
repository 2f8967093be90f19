"""Rendering a hook's task template with JSON-e (protocol.md, "Firing a hook").

The context is `{firedBy, taskId, now, payload}` (plus `clientId` for triggerHook). `now` is
an ISO string and the base of `$fromNow`. Defaults are filled after rendering, as Taskcluster
does: `created = now`, `deadline = now + 1 day`, `expires = now + 1 month` when absent, and
`taskGroupId = taskId` (a decision task is its own group).
"""

from __future__ import annotations

from typing import Any

import jsone
import jsonschema

from clients.protocol.times import format_ms

__all__ = [
    "RenderError",
    "TriggerSchemaError",
    "check_trigger_schema",
    "fill_defaults",
    "render_context",
    "render_task",
    "validate_payload",
]

DAY_MS = 86_400_000
MONTH_MS = 31 * DAY_MS


class RenderError(ValueError):
    """The template does not render to a task (a JSON-e error, or not an object)."""


class TriggerSchemaError(ValueError):
    """A triggerSchema that is not a JSON Schema, or a payload it refuses."""


def render_context(
    fired_by: str, task_id: str, now_ms: int, payload: Any, client_id: str | None = None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "firedBy": fired_by,
        "taskId": task_id,
        "now": format_ms(now_ms),
        "payload": payload,
    }
    if client_id is not None:
        context["clientId"] = client_id
    return context


def render_task(template: dict[str, Any], context: dict[str, Any]) -> dict[str, Any] | None:
    """The rendered task definition, or None when the template renders to null."""
    try:
        rendered = jsone.render(template, context)
    except Exception as error:  # JSON-e raises several kinds; all mean "bad template"
        raise RenderError(f"{type(error).__name__}: {error}") from None
    if rendered is None:
        return None
    if not isinstance(rendered, dict):
        raise RenderError(f"the template rendered to {type(rendered).__name__}, not an object")
    return rendered


def fill_defaults(task: dict[str, Any], task_id: str, now_ms: int) -> dict[str, Any]:
    filled = dict(task)
    filled.setdefault("created", format_ms(now_ms))
    filled.setdefault("deadline", format_ms(now_ms + DAY_MS))
    filled.setdefault("expires", format_ms(now_ms + MONTH_MS))
    filled.setdefault("taskGroupId", task_id)
    return filled


def check_trigger_schema(schema: dict[str, Any]) -> None:
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        raise TriggerSchemaError(
            f"triggerSchema is not a valid JSON schema: {error.message}"
        ) from None


def validate_payload(schema: dict[str, Any], payload: Any) -> None:
    """Raise TriggerSchemaError with every error, joined by `; `, as Taskcluster does."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
    if errors:
        raise TriggerSchemaError(
            "; ".join(f"{_path(e.absolute_path)}: {e.message}" for e in errors)
        )


def _path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
