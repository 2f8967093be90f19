"""What every `infrax` client command shares: connection flags, the client, exit codes.

Exit codes (README, "The infrax command"): 0 success; 1 the awaited task failed; 2 usage or
configuration error; 3 the awaited task resolved as exception; 4 the server refused the
request (4xx); 5 the server could not be reached or kept failing (5xx); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine
from enum import IntEnum
from pathlib import Path
from typing import Any

from .. import hawk
from ..client import (
    ApiCallError,
    ClientError,
    ConfigurationError,
    Options,
    ServerError,
    TransportError,
    credentials_from_env,
)

__all__ = ["Exit", "connection_flags", "options_of", "run_command"]


class Exit(IntEnum):
    ok = 0
    task_failed = 1
    usage = 2
    task_exception = 3
    refused = 4
    unreachable = 5
    interrupted = 130


def connection_flags() -> argparse.ArgumentParser:
    """A parent parser with --root-url, --data-dir and --json."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--root-url",
        default=os.environ.get("TASKCLUSTER_ROOT_URL"),
        help="the queue's rootUrl [TASKCLUSTER_ROOT_URL]",
    )
    parent.add_argument(
        "--data-dir",
        type=Path,
        help="use the root credentials saved in this queue data directory"
        " (otherwise TASKCLUSTER_CLIENT_ID / TASKCLUSTER_ACCESS_TOKEN / TASKCLUSTER_CERTIFICATE)",
    )
    parent.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parent


def _credentials(args: argparse.Namespace) -> hawk.Credentials | None:
    if args.data_dir is not None:
        path = args.data_dir / "root-credentials.json"
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ConfigurationError(f"cannot read {path}: {error}") from None
        return hawk.Credentials(saved["clientId"], saved["accessToken"])
    return credentials_from_env()


def options_of(args: argparse.Namespace) -> Options:
    """Client options from the connection flags and the TASKCLUSTER_* variables."""
    if not args.root_url:
        raise ConfigurationError("give --root-url or set TASKCLUSTER_ROOT_URL")
    return Options(args.root_url, _credentials(args))


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def run_command(prog: str, body: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run an async command body; client errors become one stderr line and an exit code."""
    try:
        return asyncio.run(body())
    except KeyboardInterrupt:
        return Exit.interrupted
    except ConfigurationError as error:
        sys.stderr.write(f"{prog}: {error}\n")
        return Exit.usage
    except ServerError as error:
        sys.stderr.write(f"{prog}: {error.status} {error.code}: {_first_line(error.explanation)}\n")
        return Exit.unreachable
    except ApiCallError as error:
        sys.stderr.write(f"{prog}: {error.status} {error.code}: {_first_line(error.explanation)}\n")
        return Exit.refused
    except TransportError as error:
        sys.stderr.write(f"{prog}: cannot reach the queue: {error}\n")
        return Exit.unreachable
    except ClientError as error:
        sys.stderr.write(f"{prog}: {error}\n")
        return Exit.unreachable
