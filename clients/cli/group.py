"""`infrax group TASK_GROUP_ID`: the tasks of a group as a tree by dependency, states coloured."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.text import Text
from rich.tree import Tree

from ..client import Queue
from ..protocol.tasks import TaskAndStatus
from .common import Exit, connection_flags, options_of, run_command
from .render import STATE_STYLE, console, print_json, state_text

__all__ = ["Node", "command", "dependency_forest"]


@dataclass
class Node:
    """A task in the tree; ``also_after`` names its other in-group dependencies, shown once."""

    item: TaskAndStatus
    children: list[Node] = field(default_factory=list)
    also_after: list[str] = field(default_factory=list)


def dependency_forest(items: Sequence[TaskAndStatus]) -> list[Node]:
    """Roots are tasks with no dependency inside the group; a task hangs under its first
    in-group dependency (in listing order) and lists the others. Pure; cycles cannot occur
    (a task's dependencies exist before it), but a self-dependency is ignored."""
    by_id = {item.status.task_id: Node(item) for item in items}
    roots: list[Node] = []
    for node in by_id.values():
        own = node.item.status.task_id
        parents = [d for d in node.item.task.dependencies if d in by_id and d != own]
        if not parents:
            roots.append(node)
            continue
        by_id[parents[0]].children.append(node)
        node.also_after = parents[1:]
    return roots


def _label(node: Node) -> Text:
    status = node.item.status
    label = Text(f"{status.task_id}  ")
    label.append_text(state_text(status.state))
    label.append(f"  {node.item.task.metadata.name}", style="")
    if node.also_after:
        label.append(f"  (also after {', '.join(node.also_after)})", style="dim")
    return label


def _grow(tree: Tree, nodes: list[Node]) -> None:
    for node in nodes:
        _grow(tree.add(_label(node)), node.children)


def render_group(task_group_id: str, items: list[TaskAndStatus]) -> None:
    counts = Counter(item.status.state for item in items)
    title = Text(f"task group {task_group_id}: {len(items)} tasks  ")
    for state, count in sorted(counts.items()):
        title.append(f"{count} {state}", style=STATE_STYLE.get(state, ""))
        title.append("  ")
    tree = Tree(title)
    _grow(tree, dependency_forest(items))
    console().print(tree)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax group",
        description="Show a task group's tasks as a tree by dependency.",
        parents=[connection_flags()],
    )
    parser.add_argument("task_group_id")
    return parser


def command(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))

    async def body() -> int:
        async with Queue(options_of(args)) as queue:
            items = [item async for item in queue.iter_list_task_group(args.task_group_id)]
        if args.json:
            print_json({"taskGroupId": args.task_group_id, "tasks": items})
        else:
            render_group(args.task_group_id, items)
        return Exit.ok

    return run_command("infrax group", body)
