"""Task-graph files (protocol.md, "Task graphs"): tasks that refer to each other by label.

A graph file is YAML or JSON, rendered with JSON-e against `{now, taskGroupId}` first (so
`{$fromNow: "2 hours"}` works), of the shape::

    defaults:                 # merged under every task (the task's own fields win)
      taskQueueId: local/docker
      deadline: {$fromNow: 2 hours}
    tasks:
      build:                  # the label
        payload: {command: [make]}
      test:
        dependencies: [build] # labels of this file, or taskIds of existing tasks
        payload: {command: [make, test]}

Pure: parsing, defaults, label resolution and the creation order. Submitting is
`clients.client.graph.submit_graph`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsone
import yaml

from .protocol.ids import is_slugid, new_slugid
from .protocol.times import format_ms

__all__ = ["Graph", "GraphError", "GraphTask", "parse_graph"]

DAY_MS = 86_400_000


class GraphError(ValueError):
    """The file is not a usable task graph; the message names the label or field at fault."""


@dataclass(frozen=True)
class GraphTask:
    label: str
    task_id: str
    definition: dict[str, Any]  # a complete createTask body, dependencies as taskIds


@dataclass(frozen=True)
class Graph:
    task_group_id: str
    tasks: list[GraphTask]  # in creation order: every task after its dependencies

    @property
    def task_ids(self) -> dict[str, str]:
        return {task.label: task.task_id for task in self.tasks}


def _load(text: str, context: dict[str, Any]) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise GraphError(f"the file is not YAML or JSON: {error}") from None
    try:
        rendered = jsone.render(raw, context)
    except Exception as error:  # JSON-e raises several kinds
        raise GraphError(f"JSON-e: {error}") from None
    if not isinstance(rendered, dict) or not isinstance(rendered.get("tasks"), dict):
        raise GraphError("a graph file is an object with `tasks`: a mapping of label to task")
    return rendered


def _complete(label: str, task: dict[str, Any], group: str, now_ms: int) -> dict[str, Any]:
    done = {key: value for key, value in task.items() if key != "taskId"}
    done["taskGroupId"] = group
    done.setdefault("created", format_ms(now_ms))
    done.setdefault("deadline", format_ms(now_ms + DAY_MS))
    done.setdefault("payload", {})
    metadata = dict(done.get("metadata") or {})
    metadata.setdefault("name", label)
    metadata.setdefault("description", f"`{label}` of a task graph")
    metadata.setdefault("owner", "nobody@infrax.invalid")
    metadata.setdefault("source", "https://infrax.invalid/task-graph")
    done["metadata"] = metadata
    return done


def _order(deps: dict[str, list[str]]) -> list[str]:
    """Labels with every dependency first, in file order where free; GraphError on a cycle."""
    placed: list[str] = []
    done: set[str] = set()
    remaining = list(deps)
    while remaining:
        ready = [label for label in remaining if all(d in done for d in deps[label])]
        if not ready:
            raise GraphError(f"these tasks depend on each other in a cycle: {', '.join(remaining)}")
        placed += ready
        done.update(ready)
        remaining = [label for label in remaining if label not in done]
    return placed


def parse_graph(text: str, *, now_ms: int, task_group_id: str | None = None) -> Graph:
    group = task_group_id or new_slugid()
    document = _load(text, {"now": format_ms(now_ms), "taskGroupId": group})
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise GraphError("`defaults` must be an object")
    tasks: dict[str, dict[str, Any]] = {}
    for label, task in document["tasks"].items():
        if not isinstance(task, dict):
            raise GraphError(f"task `{label}` must be an object")
        tasks[str(label)] = {**defaults, **task}
    ids = {label: str(task.get("taskId") or new_slugid()) for label, task in tasks.items()}
    for label, task_id in ids.items():
        if not is_slugid(task_id):
            raise GraphError(f"task `{label}`: taskId {task_id!r} is not a slugid")
    inner: dict[str, list[str]] = {}
    resolved: dict[str, list[str]] = {}
    for label, task in tasks.items():
        listed = task.get("dependencies") or []
        if not isinstance(listed, list) or not all(isinstance(d, str) for d in listed):
            raise GraphError(f"task `{label}`: `dependencies` must be a list of labels")
        given: list[str] = listed
        unknown = [d for d in given if d not in ids and not is_slugid(d)]
        if unknown:
            raise GraphError(f"task `{label}` depends on unknown labels: {', '.join(unknown)}")
        inner[label] = [d for d in given if d in ids]
        resolved[label] = [ids.get(d, d) for d in given]
    ordered = _order(inner)
    return Graph(
        group,
        [
            GraphTask(
                label,
                ids[label],
                {**_complete(label, tasks[label], group, now_ms), "dependencies": resolved[label]},
            )
            for label in ordered
        ],
    )
