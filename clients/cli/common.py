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
from .local import LOCAL_FILE, LocalSystem, data_dir_of, find_local

__all__ = ["Exit", "connection_flags", "connection_of", "options_of", "run_command"]


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
        help="the queue's rootUrl [TASKCLUSTER_ROOT_URL; else the one `infrax up` recorded in"
        " the data directory]",
    )
    parent.add_argument(
        "--data-dir",
        type=Path,
        help="use the root credentials saved in this queue data directory"
        " (otherwise TASKCLUSTER_CLIENT_ID / TASKCLUSTER_ACCESS_TOKEN / TASKCLUSTER_CERTIFICATE);"
        " without a rootUrl, the system `infrax up` runs with this data directory"
        " [INFRAX_DATA_DIR, ./infrax-data]",
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


def connection_of(args: argparse.Namespace) -> tuple[Options, LocalSystem | None]:
    """Client options from the connection flags and the TASKCLUSTER_* variables; without a
    rootUrl, those of the system `infrax up` runs (clients/cli/local.py), which it returns."""
    if args.root_url:
        return Options(args.root_url, _credentials(args)), None
    local = find_local(args.data_dir)
    if local is None:
        looked = data_dir_of(args.data_dir) / LOCAL_FILE
        raise ConfigurationError(
            f"give --root-url or set TASKCLUSTER_ROOT_URL, or start `infrax up` ({looked} is absent)"
        )
    return Options(local.root_url, local.credentials), local


def options_of(args: argparse.Namespace) -> Options:
    """Client options from the connection flags and the TASKCLUSTER_* variables, else from
    the file `infrax up` writes."""
    return connection_of(args)[0]


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
