"""The queue as its own process for the CLI's end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

INFRAX = [sys.executable, "-m", "clients.cli.main"]


def clean_env() -> dict[str, str]:
    """This environment without INFRAX_* and TASKCLUSTER_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("INFRAX_", "TASKCLUSTER_"))}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`infrax queue` on a free port: its rootUrl and data directory."""
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        [*INFRAX, "queue", "--data-dir", str(data_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("rootUrl: http://127.0.0.1:"), first
        yield first.split(" ", 1)[1].strip(), data_dir
    finally:
        process.terminate()
        assert process.wait(30) == 0
