"""Human output with rich, and --json output, shared by the `infrax` commands."""

from __future__ import annotations

import json
import sys
from typing import Any

import msgspec
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..protocol.tasks import RunInfo, TaskStatus

__all__ = ["STATE_STYLE", "console", "print_json", "runs_table", "state_text", "status_line"]

STATE_STYLE = {
    "unscheduled": "dim",
    "pending": "yellow",
    "running": "bold blue",
    "completed": "bold green",
    "failed": "bold red",
    "exception": "bold magenta",
}


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr); colours only on a terminal, never in pipes."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_json(value: Any) -> None:
    """Any msgspec value or plain data as indented JSON on stdout."""
    sys.stdout.write(json.dumps(msgspec.to_builtins(value), indent=2) + "\n")


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLE.get(state, ""))


def _unset(value: object) -> str:
    return "" if value is msgspec.UNSET or value is None else str(value)


def _worker(run: RunInfo) -> str:
    if run.worker_id is msgspec.UNSET:
        return ""
    return f"{_unset(run.worker_group)}/{_unset(run.worker_id)}"


def status_line(status: TaskStatus) -> Text:
    """`<taskId>  <state>  <taskQueueId>  run <n>`, the state coloured."""
    line = Text(f"{status.task_id}  ")
    line.append_text(state_text(status.state))
    line.append(f"  {status.task_queue_id}")
    if status.runs:
        line.append(f"  run {status.runs[-1].run_id}")
    return line


def runs_table(status: TaskStatus) -> Table:
    table = Table(title=None, show_edge=False, pad_edge=False)
    for column in (
        "run",
        "state",
        "created",
        "resolved",
        "worker",
        "scheduled",
        "started",
        "resolved at",
    ):
        table.add_column(column)
    for run in status.runs:
        table.add_row(
            str(run.run_id),
            state_text(run.state),
            run.reason_created,
            _unset(run.reason_resolved),
            _worker(run),
            run.scheduled,
            _unset(run.started),
            _unset(run.resolved),
        )
    return table
