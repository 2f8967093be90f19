"""`infrax rerun TASK_ID [--subtree]`: rerun a resolved task, or it and what depends on it."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import msgspec

from ..client import Queue
from .common import Exit, connection_flags, options_of, run_command

__all__ = ["command"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax rerun", description="Rerun a resolved task.", parents=[connection_flags()]
    )
    parser.add_argument("task_id")
    parser.add_argument(
        "--subtree",
        action="store_true",
        help="also rerun the resolved tasks that depend on it, each after its dependencies",
    )
    return parser


def command(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))

    async def body() -> int:
        async with Queue(options_of(args)) as queue:
            if args.subtree:
                answer: msgspec.Struct = await queue.rerun_subtree(args.task_id)
            else:
                answer = await queue.rerun_task(args.task_id)
        result = msgspec.to_builtins(answer)
        if args.json:
            sys.stdout.write(json.dumps(result, indent=2) + "\n")
            return Exit.ok
        status = result["status"]
        sys.stdout.write(f"{status['taskId']}  {status['state']}  run {len(status['runs']) - 1}\n")
        for task_id in result.get("waiting", []):
            sys.stdout.write(f"{task_id}  waits to rerun\n")
        return Exit.ok

    return run_command("infrax rerun", body)
