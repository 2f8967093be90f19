"""`infrax artifacts TASK_ID [--run N]` lists a run's artifacts; `infrax artifacts get TASK_ID
NAME [-o FILE] [--run N]` downloads one (protocol.md §14, §15).

The download goes through the typed client's `download_artifact`: links followed, a cut
transfer resumed, an object's SHA-256 checked; its bytes are written as stored (a gzip
artifact stays gzip). Without `-o` the file is named after the artifact's last path part; with
`-o -` the bytes go to stdout. A progress bar is drawn on stderr when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from ..client import Queue
from ..client.transfer import Progress as Progressed
from ..protocol.artifacts import Artifact
from .common import Exit, connection_flags, options_of, run_command
from .render import console, print_json

__all__ = ["command"]


def _list_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax artifacts",
        description="List the artifacts of a task's run (`infrax artifacts get TASK_ID NAME`"
        " downloads one).",
        parents=[connection_flags()],
        usage="infrax artifacts TASK_ID [--run N] [--json]"
        "  |  infrax artifacts get TASK_ID NAME [-o FILE] [--run N]",
    )
    parser.add_argument("task_id")
    parser.add_argument("--run", type=int, help="the run (default: the latest)")
    return parser


def _get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax artifacts get",
        description="Download an artifact of a task's run, following links and checking what"
        " the client checks (an object's SHA-256); the bytes as stored.",
        parents=[connection_flags()],
    )
    parser.add_argument("task_id")
    parser.add_argument("name", help="the artifact, e.g. public/logs/live_backing.log")
    parser.add_argument("--run", type=int, help="the run (default: the latest)")
    parser.add_argument(
        "-o",
        "--output",
        help="the file to write; `-` for stdout [the name's last part, in this directory]",
    )
    return parser


def _size(artifact: Artifact) -> str:
    length = artifact.content_length
    return str(length) if isinstance(length, int) else ""


def _table(task_id: str, run: int | None, artifacts: list[Artifact]) -> Table:
    title = f"{task_id} run {run}" if run is not None else f"{task_id} latest run"
    table = Table(title=title, title_justify="left")
    for column in ("name", "storage", "content type", "bytes", "expires"):
        table.add_column(column, justify="right" if column == "bytes" else "left")
    for artifact in artifacts:
        table.add_row(
            artifact.name,
            artifact.storage_type,
            artifact.content_type,
            _size(artifact),
            artifact.expires,
        )
    return table


async def _list(queue: Queue, args: argparse.Namespace) -> int:
    if args.run is None:
        listed = queue.iter_list_latest_artifacts(args.task_id)
    else:
        listed = queue.iter_list_artifacts(args.task_id, args.run)
    artifacts = [artifact async for artifact in listed]
    if args.json:
        print_json({"taskId": args.task_id, "runId": args.run, "artifacts": artifacts})
    else:
        console().print(_table(args.task_id, args.run, artifacts))
    return Exit.ok


@contextmanager
def _progress_bar(name: str) -> Iterator[Progressed | None]:
    """A rich progress bar on stderr when it is a terminal; else nothing."""
    if not sys.stderr.isatty():
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console(stderr=True), transient=False) as progress:
        bar = progress.add_task(name, total=None)

        def update(done: int, total: int | None) -> None:
            progress.update(bar, completed=done, total=total)

        yield update


def _output(args: argparse.Namespace) -> Path | BinaryIO:
    if args.output == "-":
        return sys.stdout.buffer
    return Path(args.output or PurePosixPath(args.name).name)


async def _get(queue: Queue, args: argparse.Namespace) -> int:
    target = _output(args)
    with _progress_bar(args.name) as progress:
        done = await queue.download_artifact(
            args.task_id, args.name, target, run_id=args.run, progress=progress
        )
    if isinstance(target, Path):
        if args.json:
            print_json({"path": str(target), "bytes": done.size, "sha256": done.sha256,
                        "contentType": done.content_type, "contentEncoding": done.content_encoding})  # fmt: skip
        else:
            encoding = f", {done.content_encoding}" if done.content_encoding else ""
            console(stderr=True).print(
                f"{target}: {done.size} bytes ({done.content_type}{encoding}), sha256 {done.sha256}"
            )
    return Exit.ok


def command(argv: Sequence[str]) -> int:
    getting = list(argv[:1]) == ["get"]
    parser = _get_parser() if getting else _list_parser()
    args = parser.parse_args(list(argv[1:] if getting else argv))

    async def body() -> int:
        async with Queue(options_of(args)) as queue:
            return await (_get(queue, args) if getting else _list(queue, args))

    return run_command("infrax artifacts get" if getting else "infrax artifacts", body)
