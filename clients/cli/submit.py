"""`infrax submit [flags] -- CMD ARG...`: create a one-off task; `--wait` for its result,
or `--follow` its live log.

Exit codes with --wait or --follow (clients/cli/common.py): 0 completed, 1 failed,
3 exception; --wait then shows why a task did not complete, from the end of its log. Without a task queue given, the task goes to INFRAX_TASK_QUEUE_ID, else to the
one the worker of `infrax up` serves when the connection is that of `infrax up`, else to
local/docker.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from rich.text import Text

from ..client import ConfigurationError, Queue, wait_for_resolution
from ..protocol.events import Exchange, TaskMessage
from ..protocol.ids import new_slugid
from ..protocol.states import PRIORITIES, TaskState
from .common import Exit, connection_flags, connection_of, run_command
from .logs import closing_lines, follow_log
from .render import console, print_json, runs_table, status_line
from .taskdef import (
    DEFAULT_DEADLINE,
    DEFAULT_IMAGE,
    DEFAULT_MAX_RUN_TIME_S,
    DEFAULT_TASK_QUEUE,
    Submission,
    complete_definition,
    parse_duration_s,
    parse_pairs,
    task_definition,
)

__all__ = ["command"]

LOG_ARTIFACT = "public/logs/live_backing.log"
EXIT_OF = {
    TaskState.completed: Exit.ok,
    TaskState.failed: Exit.task_failed,
    TaskState.exception: Exit.task_exception,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax submit",
        description="Create a one-off task running CMD (after `--`), or the task of a file.",
        parents=[connection_flags()],
        usage="infrax submit [options] -- CMD [ARG...]  |  infrax submit [options] --file TASK",
    )
    add = parser.add_argument
    add("command", nargs=argparse.REMAINDER, help="the command and its arguments, after --")
    add("--file", type=Path, help="a task definition (YAML or JSON) to complete and create")
    add("--task-queue-id", default=os.environ.get("INFRAX_TASK_QUEUE_ID"),
        help="where it runs [INFRAX_TASK_QUEUE_ID, else the one `infrax up` serves, else"
        f" {DEFAULT_TASK_QUEUE}]; */process queues get a process payload")  # fmt: skip
    add(
        "--engine",
        choices=["docker", "process"],
        help="the payload shape (default: from the queue)",
    )
    add("--image", default=os.environ.get("INFRAX_IMAGE", DEFAULT_IMAGE),
        help=f"Docker image [INFRAX_IMAGE, {DEFAULT_IMAGE}]")  # fmt: skip
    add("--env", action="append", default=[], metavar="K=V", help="environment (repeat)")
    add("--artifact", action="append", default=[], metavar="NAME=PATH",
        help="upload PATH as artifact NAME after the run (a PATH ending in / is a directory)")  # fmt: skip
    add("--max-run-time", default=f"{DEFAULT_MAX_RUN_TIME_S}s", help="e.g. 90s, 30m [1h]")
    add(
        "--deadline", default=DEFAULT_DEADLINE, help="resolve as exception if not done by then [1d]"
    )
    add("--expires", help="when the task and its artifacts are deleted (default: the queue's)")
    add("--priority", default="lowest", choices=list(PRIORITIES))
    add("--retries", type=int, help="automatic retries after worker failures [5]")
    add("--interactive", action="store_true", help="ask for an interactive shell")
    add("--name", help="metadata.name [the command]")
    add("--description", help="metadata.description")
    add(
        "--owner",
        default=os.environ.get("INFRAX_OWNER"),
        help="metadata.owner [INFRAX_OWNER, user@host]",
    )
    add("--source", help="metadata.source, a URL [the rootUrl]")
    add("--task-group-id", help="put the task in this group [a new group]")
    add(
        "--dependency", action="append", default=[], metavar="TASK_ID", help="run after it (repeat)"
    )
    add("--route", action="append", default=[], help="a route (repeat)")
    add("--scope", action="append", default=[], help="a scope the task gets (repeat)")
    waiting = parser.add_mutually_exclusive_group()
    waiting.add_argument(
        "--wait",
        action="store_true",
        help="wait for the result; exit 0 completed, 1 failed, 3 exception",
    )
    waiting.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="print the live log until the task resolves (with --json: the log on stderr, the"
        " final status on stdout); exit 0 completed, 1 failed, 3 exception",
    )
    return parser


def _submission(args: argparse.Namespace, root_url: str) -> Submission:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return Submission(
        command=tuple(command),
        owner=args.owner or f"{getpass.getuser()}@{socket.gethostname()}",
        source=args.source or root_url,
        task_queue_id=args.task_queue_id,
        engine=args.engine,
        image=args.image,
        env=parse_pairs(args.env, "--env"),
        artifacts=parse_pairs(args.artifact, "--artifact"),
        max_run_time_s=parse_duration_s(args.max_run_time),
        priority=args.priority,
        interactive=args.interactive,
        name=args.name,
        description=args.description,
        task_group_id=args.task_group_id,
        deadline_s=parse_duration_s(args.deadline),
        expires_s=None if args.expires is None else parse_duration_s(args.expires),
        retries=args.retries,
        routes=tuple(args.route),
        scopes=tuple(args.scope),
        dependencies=tuple(args.dependency),
    )


def _definition(args: argparse.Namespace, root_url: str) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    submission = _submission(args, root_url)
    if args.file is None:
        return task_definition(submission, now_ms)
    if submission.command:
        raise ValueError("give a command or --file, not both")
    try:
        loaded = yaml.safe_load(args.file.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read {args.file}: {error}") from None
    return complete_definition(
        loaded,
        now_ms=now_ms,
        task_queue_id=submission.task_queue_id,
        owner=submission.owner,
        source=submission.source,
    )


def _progress(exchange: Exchange, message: TaskMessage) -> None:
    where = (
        ""
        if not isinstance(message.worker_id, str)
        else f" on {message.worker_group}/{message.worker_id}"
    )
    run = "" if not isinstance(message.run_id, int) else f" run {message.run_id}"
    console(stderr=True).print(f"{exchange.value}{run}{where}", style="dim")


async def _submit(queue: Queue, args: argparse.Namespace, definition: dict[str, Any]) -> int:
    task_id = new_slugid()
    created = (await queue.create_task(task_id, definition)).status
    status_url = queue.url("status", {"taskId": task_id})
    if args.json and not (args.wait or args.follow):
        print_json({"taskId": task_id, "status": created, "statusUrl": status_url})
        return Exit.ok
    if not args.json:
        out = console(stderr=args.follow)  # with --follow, stdout is the task's log
        out.print(f"task    {task_id}")
        out.print(f"page    {queue.options.root_url}/tasks/{task_id}")
        out.print(
            f"log     {queue.url('getLatestArtifact', {'taskId': task_id, 'name': LOG_ARTIFACT})}"
        )
    if args.follow:
        code = await follow_log(
            queue, task_id, sys.stderr.buffer if args.json else sys.stdout.buffer, "infrax submit"
        )
        if args.json:
            print_json({"taskId": task_id, "status": (await queue.status(task_id)).status})
        return code
    if not args.wait:
        return Exit.ok
    if not args.json:
        console(stderr=True).print(
            f"waiting for {task_id}; Ctrl-C stops waiting, not the task", style="dim"
        )
    final = await wait_for_resolution(queue, task_id, None if args.json else _progress)
    if args.json:
        print_json({"taskId": task_id, "status": final})
        return EXIT_OF[final.state]
    out = console()
    out.print(status_line(final))
    if final.state is not TaskState.completed and final.runs:
        # why it failed, as the end of the log says it (--follow shows the whole log)
        for line in await closing_lines(queue, task_id, final.runs[-1].run_id):
            out.print(Text(line))
    out.print(runs_table(final))
    return EXIT_OF[final.state]


def command(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))

    async def body() -> int:
        options, local = connection_of(args)
        if args.task_queue_id is None:
            args.task_queue_id = local.task_queue_id if local is not None else DEFAULT_TASK_QUEUE
        try:
            definition = _definition(args, options.root_url)
        except ValueError as error:
            raise ConfigurationError(str(error)) from None
        async with Queue(options) as queue:
            return await _submit(queue, args, definition)

    return run_command("infrax submit", body)
