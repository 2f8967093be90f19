"""`infrax graph submit FILE`: create the tasks of a task-graph file in one task group."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..client import ConfigurationError, Queue
from ..client.graph import submit_graph_text
from ..graph import GraphError
from .common import Exit, connection_flags, options_of, run_command

__all__ = ["command"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infrax graph", description="Task graphs.")
    sub = parser.add_subparsers(dest="action", required=True)
    submit = sub.add_parser(
        "submit", parents=[connection_flags()], help="create the tasks of a graph file"
    )
    submit.add_argument("file", type=Path, help="a YAML or JSON task-graph file")
    submit.add_argument(
        "--task-group-id",
        default=os.environ.get("TASK_GROUP_ID"),
        help="put the tasks in this group, e.g. the decision task's [TASK_GROUP_ID; else new]",
    )
    return parser


def command(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))

    async def body() -> int:
        options = options_of(args)
        try:
            text = args.file.read_text(encoding="utf-8")
            async with Queue(options) as queue:
                done = await submit_graph_text(queue, text, task_group_id=args.task_group_id)
        except (GraphError, OSError) as error:
            raise ConfigurationError(f"{args.file}: {error}") from None
        if args.json:
            shown = {"taskGroupId": done.task_group_id, "taskIds": done.task_ids}
            sys.stdout.write(json.dumps(shown, indent=2) + "\n")
        else:
            sys.stdout.write(f"taskGroupId: {done.task_group_id}\n")
            sys.stdout.write(f"page: {done.page(options.root_url)}\n")
            for label, task_id in done.task_ids.items():
                sys.stdout.write(f"{task_id}  {label}\n")
        return Exit.ok

    return run_command("infrax graph", body)
