"""`infrax watch`: the queue's messages live, filterable by task group, task queue or task."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence

import msgspec
from rich.text import Text

from ..client import EventStreamClosed, Queue
from ..client.events import Event
from ..protocol.events import Exchange
from ..protocol.stream import GROUP_EXCHANGES, Binding
from .common import Exit, connection_flags, options_of, run_command
from .render import STATE_STYLE, console

__all__ = ["command", "watch_bindings"]

EXCHANGE_STYLE = {
    Exchange.task_completed: "green",
    Exchange.task_failed: "red",
    Exchange.task_exception: "magenta",
    Exchange.task_running: "blue",
    Exchange.task_pending: "yellow",
}


def watch_bindings(
    exchanges: Sequence[Exchange],
    *,
    task_group_id: str | None = None,
    task_queue_id: str | None = None,
    task_id: str | None = None,
) -> list[Binding]:
    """One binding per exchange selecting every filter at once (pure).

    A task exchange's key is `primary.<taskId>.<runId>.<workerGroup>.<workerId>.<provisionerId>.
    <workerType>.<schedulerId>.<taskGroupId>._` (protocol.md §11.2): each filter fixes one
    word. Group exchanges only carry the group, so they are watched only when no task or queue
    filter is given.
    """
    words = ["primary", *["*"] * 8, "#"]
    if task_id:
        words[1] = task_id
    if task_queue_id:
        words[5], _, words[6] = task_queue_id.partition("/")
    if task_group_id:
        words[8] = task_group_id
    bindings = []
    for exchange in exchanges:
        if exchange in GROUP_EXCHANGES:
            if task_id or task_queue_id:
                continue
            pattern = f"primary.{task_group_id}.#" if task_group_id else "#"
        else:
            pattern = ".".join(words) if (task_id or task_queue_id or task_group_id) else "#"
        bindings.append(Binding.of(exchange, pattern))
    return bindings


def _line(event: Event) -> Text:
    now = dt.datetime.now().strftime("%H:%M:%S")
    line = Text(f"{now}  ")
    exchange = str(event.exchange)
    line.append(
        f"{exchange:<27}",
        style=EXCHANGE_STYLE.get(Exchange(exchange), "")
        if exchange in Exchange.__members__.values()
        else "",
    )
    body = msgspec.to_builtins(event.body)
    status = body.get("status") if isinstance(body, dict) else None
    if isinstance(status, dict):
        state = str(status.get("state", ""))
        line.append(f"  {status.get('taskId')}  ")
        line.append(state, style=STATE_STYLE.get(state, ""))
        line.append(f"  {status.get('taskQueueId')}")
        if "runId" in body:
            line.append(f"  run {body['runId']}")
        if "workerId" in body:
            line.append(f"  on {body.get('workerGroup')}/{body['workerId']}")
        if "artifact" in body:
            line.append(f"  {body['artifact'].get('name')}")
    elif isinstance(body, dict):
        line.append(f"  group {body.get('taskGroupId')}")
    return line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax watch",
        description="Print the queue's messages as they happen (Ctrl-C stops).",
        parents=[connection_flags()],
    )
    parser.add_argument("--task-group", dest="task_group_id", help="only this task group")
    parser.add_argument("--task-queue", dest="task_queue_id", help="only this task queue")
    parser.add_argument("--task", dest="task_id", help="only this task")
    parser.add_argument(
        "--exchange",
        action="append",
        choices=[exchange.value for exchange in Exchange],
        help="only these exchanges (repeat; default: all)",
    )
    parser.add_argument("--count", type=int, help="stop after this many messages")
    return parser


def command(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    exchanges = [Exchange(name) for name in args.exchange or [e.value for e in Exchange]]
    bindings = watch_bindings(
        exchanges,
        task_group_id=args.task_group_id,
        task_queue_id=args.task_queue_id,
        task_id=args.task_id,
    )

    async def body() -> int:
        seen = 0
        async with Queue(options_of(args)) as queue:
            while args.count is None or seen < args.count:
                try:
                    seen += await _stream(queue, bindings, args, seen)
                except EventStreamClosed as closed:
                    sys.stderr.write(f"infrax watch: {closed}; subscribing again\n")
        return Exit.ok

    return run_command("infrax watch", body)


async def _stream(
    queue: Queue, bindings: list[Binding], args: argparse.Namespace, seen: int
) -> int:
    """Print events until the count is reached; how many were printed."""
    out, printed = console(), 0
    async with queue.events(bindings) as stream:
        sys.stderr.write("watching; Ctrl-C stops\n")  # stderr: stdout stays JSON with --json
        sys.stderr.flush()
        async for event in stream:
            if args.json:
                record = {"exchange": str(event.exchange), "routingKey": event.routing_key,
                          "routes": event.routes, "payload": msgspec.to_builtins(event.body)}  # fmt: skip
                sys.stdout.write(json.dumps(record) + "\n")
                sys.stdout.flush()
            else:
                out.print(_line(event))
            printed += 1
            if args.count is not None and seen + printed >= args.count:
                break
    return printed
