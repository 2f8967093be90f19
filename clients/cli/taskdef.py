"""Building a complete task definition for `infrax submit` (pure).

From a command and flags, or from a YAML/JSON file completed with the same defaults: times
(now, deadline a day away), the task queue (`local/docker`), metadata from the user and the
command, and a payload in the shape the engine of the task queue expects: docker-worker's
for Docker queues, generic-worker's for `*/process` queues (protocol.md, "Worker payloads").
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..protocol.times import format_ms

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_IMAGE",
    "DEFAULT_MAX_RUN_TIME_S",
    "DEFAULT_TASK_QUEUE",
    "Submission",
    "complete_definition",
    "engine_of",
    "parse_duration_s",
    "parse_pairs",
    "task_definition",
]

Engine = Literal["docker", "process"]
DEFAULT_TASK_QUEUE = "local/docker"
DEFAULT_IMAGE = "debian:stable-slim"
DEFAULT_MAX_RUN_TIME_S = 3600
DEFAULT_DEADLINE = "1d"
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)?\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration_s(text: str) -> int:
    """`90`, `90s`, `30m`, `2h`, `1d`, `1w` as seconds; ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 90s, 30m, 2h or 1d")
    return int(match.group(1)) * _UNIT_S[match.group(2) or "s"]


def parse_pairs(items: Sequence[str], what: str) -> dict[str, str]:
    """`KEY=VALUE` items as a dict; ValueError naming the flag for anything else."""
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} takes KEY=VALUE, not {item!r}")
        pairs[key] = value
    return pairs


def engine_of(task_queue_id: str, explicit: Engine | None = None) -> Engine:
    """The engine a task queue's workers run: `*/process` queues the process engine."""
    if explicit is not None:
        return explicit
    return "process" if task_queue_id.split("/")[-1].startswith("process") else "docker"


@dataclass(frozen=True)
class Submission:
    """What `infrax submit` was asked for; every field has the CLI's default."""

    command: tuple[str, ...]
    owner: str
    source: str
    task_queue_id: str = DEFAULT_TASK_QUEUE
    engine: Engine | None = None
    image: str = DEFAULT_IMAGE
    env: Mapping[str, str] = field(default_factory=dict)
    artifacts: Mapping[str, str] = field(default_factory=dict)  # name -> path (`/` ends a dir)
    max_run_time_s: int = DEFAULT_MAX_RUN_TIME_S
    priority: str = "lowest"
    interactive: bool = False
    name: str | None = None
    description: str | None = None
    task_group_id: str | None = None
    deadline_s: int = 86400
    expires_s: int | None = None
    retries: int | None = None
    routes: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()


def _docker_payload(sub: Submission) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "image": sub.image,
        "command": list(sub.command),
        "env": dict(sub.env),
        "maxRunTime": sub.max_run_time_s,
    }
    if sub.artifacts:
        payload["artifacts"] = {
            name: {
                "type": "directory" if path.endswith("/") else "file",
                "path": path.rstrip("/") or "/",
            }
            for name, path in sub.artifacts.items()
        }
    if sub.interactive:
        payload["features"] = {"interactive": True}
    return payload


def _process_payload(sub: Submission) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "command": [list(sub.command)],
        "env": dict(sub.env),
        "maxRunTime": sub.max_run_time_s,
    }
    if sub.artifacts:
        payload["artifacts"] = [
            {
                "type": "directory" if path.endswith("/") else "file",
                "path": path.rstrip("/") or "/",
                "name": name,
            }
            for name, path in sub.artifacts.items()
        ]
    if sub.interactive:
        payload["features"] = {"interactive": True}
    return payload


def _metadata(sub: Submission) -> dict[str, str]:
    shown = shlex.join(sub.command)
    return {
        "name": (sub.name or shown)[:255],
        "description": (sub.description or f"`{shown}`, submitted with `infrax submit`")[:32768],
        "owner": sub.owner[:255],
        "source": sub.source[:4096],
    }


def task_definition(sub: Submission, now_ms: int) -> dict[str, Any]:
    """A complete createTask body for the submission."""
    if not sub.command:
        raise ValueError("give the command to run after `--`, or a task file with --file")
    engine = engine_of(sub.task_queue_id, sub.engine)
    payload = _docker_payload(sub) if engine == "docker" else _process_payload(sub)
    definition: dict[str, Any] = {
        "taskQueueId": sub.task_queue_id,
        "created": format_ms(now_ms),
        "deadline": format_ms(now_ms + sub.deadline_s * 1000),
        "priority": sub.priority,
        "payload": payload,
        "metadata": _metadata(sub),
        "tags": {"createdForUser": sub.owner[:4096], "kind": "infrax-submit"},
    }
    optional = {
        "taskGroupId": sub.task_group_id,
        "expires": None if sub.expires_s is None else format_ms(now_ms + sub.expires_s * 1000),
        "retries": sub.retries,
        "routes": list(sub.routes) or None,
        "scopes": list(sub.scopes) or None,
        "dependencies": list(sub.dependencies) or None,
    }
    definition.update({k: v for k, v in optional.items() if v is not None})
    return definition


def _time(value: Any, now_ms: int) -> Any:
    """A relative duration (`2h`) becomes an absolute time; anything else is left as is."""
    if isinstance(value, str) and _DURATION.match(value):
        return format_ms(now_ms + parse_duration_s(value) * 1000)
    return value


def complete_definition(
    loaded: Any, *, now_ms: int, task_queue_id: str, owner: str, source: str
) -> dict[str, Any]:
    """A task definition from a file, completed: times (relative ones such as `2h` made
    absolute), the task queue, and the metadata fields it lacks."""
    if not isinstance(loaded, dict):
        raise ValueError("a task file holds one task definition: a mapping")
    if "payload" not in loaded:
        raise ValueError("the task file has no `payload`")
    definition = dict(loaded)
    definition["created"] = _time(definition.get("created", "0s"), now_ms)
    definition["deadline"] = _time(definition.get("deadline", DEFAULT_DEADLINE), now_ms)
    if "expires" in definition:
        definition["expires"] = _time(definition["expires"], now_ms)
    if "taskQueueId" not in definition and "provisionerId" not in definition:
        definition["taskQueueId"] = task_queue_id
    given = definition.get("metadata") or {}
    if not isinstance(given, dict):
        raise ValueError("`metadata` must be a mapping")
    defaults = {"name": "task from a file", "description": "submitted with `infrax submit --file`",
                "owner": owner, "source": source}  # fmt: skip
    definition["metadata"] = {**defaults, **given}
    return definition
