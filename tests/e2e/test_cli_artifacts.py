"""`infrax artifacts` end to end against `infrax up` (process engine): the listing, and
downloads to a file, to stdout, with a progress bar on a terminal, of an earlier run."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import INFRAX, clean_env
from tests.e2e.system import Up, running_up


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    with running_up(tmp_path_factory.mktemp("up"), "--engine", "process") as running:
        yield running


@pytest.fixture(scope="module")
def task_id(up: Up) -> str:
    made = up.infrax("submit", "--wait", "--json", "--artifact", "public/out.txt=out.txt",
                     "--", "sh", "-c", "printf 'made by the task' > out.txt")  # fmt: skip
    assert made.returncode == 0, made.stderr
    return str(json.loads(made.stdout)["taskId"])


def test_artifacts_lists_the_runs_artifacts(up: Up, task_id: str) -> None:
    listed = up.infrax("artifacts", task_id, "--json")
    assert listed.returncode == 0, listed.stderr
    by_name = {a["name"]: a for a in json.loads(listed.stdout)["artifacts"]}
    assert {"public/out.txt", "public/logs/live_backing.log"} <= set(by_name)
    assert by_name["public/out.txt"]["contentLength"] == len("made by the task")
    of_run = json.loads(up.infrax("artifacts", task_id, "--run", "0", "--json").stdout)
    assert {a["name"] for a in of_run["artifacts"]} == set(by_name)
    table = up.infrax("artifacts", task_id)
    assert table.returncode == 0, table.stderr
    assert "public/out.txt" in table.stdout
    assert "text/plain" in table.stdout


def test_artifacts_get_writes_a_file_or_stdout(up: Up, task_id: str) -> None:
    into = up.cwd / "got.txt"
    got = up.infrax("artifacts", "get", task_id, "public/out.txt", "-o", str(into))
    assert got.returncode == 0, got.stderr
    assert into.read_bytes() == b"made by the task"
    named = up.infrax("artifacts", "get", task_id, "public/out.txt", "--run", "0")
    assert named.returncode == 0, named.stderr
    assert (up.cwd / "out.txt").read_bytes() == b"made by the task"
    piped = up.infrax("artifacts", "get", task_id, "public/out.txt", "-o", "-")
    assert (piped.returncode, piped.stdout) == (0, "made by the task")
    absent = up.infrax("artifacts", "get", task_id, "public/nothing.txt", "-o", "-")
    assert absent.returncode == 4
    assert "public/nothing.txt" in absent.stderr
    no_run = up.infrax("artifacts", task_id, "--run", "7")
    assert no_run.returncode == 4


def test_artifacts_get_draws_a_progress_bar_on_a_terminal(up: Up, task_id: str) -> None:
    into = up.cwd / "bar.txt"
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [*INFRAX, "artifacts", "get", task_id, "public/out.txt", "-o", str(into)],
        cwd=up.cwd,
        env=clean_env() | {"COLUMNS": "120"},
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    ) as getting:
        os.close(terminal)
        shown = b""
        while chunk := _read(controller):
            shown += chunk
        assert getting.wait(60) == 0, shown
    os.close(controller)
    assert into.read_bytes() == b"made by the task"
    assert b"public/out.txt" in shown
    assert b"16 bytes" in shown or b"16/16 bytes" in shown, shown


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the terminal's other side is closed
        return b""
