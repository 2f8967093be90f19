"""Submitting a task graph (protocol.md, "Task graphs"): every task of the file, in order."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..graph import Graph, parse_graph
from .queue import Queue

__all__ = ["Submitted", "submit_graph", "submit_graph_text"]


@dataclass(frozen=True)
class Submitted:
    task_group_id: str
    task_ids: dict[str, str]  # label -> taskId

    def page(self, root_url: str) -> str:
        """The task group's page on the queue's web UI."""
        return f"{root_url.rstrip('/')}/tasks/groups/{self.task_group_id}"


async def submit_graph(queue: Queue, graph: Graph) -> Submitted:
    """Create the graph's tasks, each after its dependencies, all in one task group.

    createTask is idempotent, so submitting the same parsed graph again after a failure
    creates only what is missing.
    """
    for task in graph.tasks:
        await queue.create_task(task.task_id, task.definition)
    return Submitted(graph.task_group_id, graph.task_ids)


async def submit_graph_text(
    queue: Queue, text: str, *, task_group_id: str | None = None
) -> Submitted:
    """Parse the text of a YAML/JSON graph file and submit it (format: clients.graph)."""
    graph = parse_graph(text, now_ms=int(time.time() * 1000), task_group_id=task_group_id)
    return await submit_graph(queue, graph)
