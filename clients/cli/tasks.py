"""`infrax status|task|cancel TASK_ID`: one task's status, definition, or cancellation."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

import msgspec
from rich.syntax import Syntax

from ..client import Queue
from ..protocol.tasks import TaskStatus
from .common import Exit, connection_flags, options_of, run_command
from .render import console, print_json, runs_table, status_line

__all__ = ["cancel_command", "status_command", "task_command"]


def _parser(name: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"infrax {name}", description=description, parents=[connection_flags()]
    )
    parser.add_argument("task_id")
    return parser


def show_status(status: TaskStatus) -> None:
    out = console()
    out.print(status_line(status))
    out.print(
        f"group {status.task_group_id}  priority {status.priority}"
        f"  retries left {status.retries_left}  deadline {status.deadline}"
    )
    if status.runs:
        out.print(runs_table(status))


def status_command(argv: Sequence[str]) -> int:
    args = _parser("status", "Show a task's state and runs.").parse_args(list(argv))

    async def body() -> int:
        async with Queue(options_of(args)) as queue:
            status = (await queue.status(args.task_id)).status
        print_json({"status": status}) if args.json else show_status(status)
        return Exit.ok

    return run_command("infrax status", body)


def task_command(argv: Sequence[str]) -> int:
    args = _parser("task", "Show a task's definition.").parse_args(list(argv))

    async def body() -> int:
        async with Queue(options_of(args)) as queue:
            task = await queue.task(args.task_id)
        if args.json:
            print_json(task)
        else:
            out = console()
            out.print(f"{task.metadata.name}  ({task.task_queue_id}, owner {task.metadata.owner})")
            out.print(Syntax(_json(task), "json", theme="ansi_dark", background_color="default"))
        return Exit.ok

    return run_command("infrax task", body)


def _json(value: object) -> str:
    return json.dumps(msgspec.to_builtins(value), indent=2)


def cancel_command(argv: Sequence[str]) -> int:
    args = _parser("cancel", "Cancel a task that is not resolved yet.").parse_args(list(argv))

    async def body() -> int:
        async with Queue(options_of(args)) as queue:
            status = (await queue.cancel_task(args.task_id)).status
        if args.json:
            print_json({"status": status})
        else:
            console().print(status_line(status))
        return Exit.ok

    return run_command("infrax cancel", body)
