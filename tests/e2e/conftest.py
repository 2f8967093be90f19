"""The queue as its own process for the CLI's end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

INFRAX = [sys.executable, "-m", "clients.cli.main"]


def clean_env() -> dict[str, str]:
    """This environment without INFRAX_* and TASKCLUSTER_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("INFRAX_", "TASKCLUSTER_"))}


@contextlib.contextmanager
def queue_process(data_dir: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`infrax queue` on a free port, with `env` added to a clean environment: its rootUrl and
    process, stopped on exit (woken first, in case a test froze it)."""
    process = subprocess.Popen(
        [*INFRAX, "queue", "--data-dir", str(data_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**clean_env(), **env},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("rootUrl: http://127.0.0.1:"), first
        yield first.split(" ", 1)[1].strip(), process
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(30)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`infrax queue` on a free port: its rootUrl and data directory."""
    data_dir = tmp_path / "data"
    with queue_process(data_dir) as (root_url, process):
        yield root_url, data_dir
    assert process.returncode == 0
