"""A worker stopped while its queue is gone (killed, or frozen and not answering): its last
reports are given up after `--shutdown-report` seconds, it says which, and it exits 1; the
queue, once back, resolves the run exception/claim-expired (protocol.md §16.3)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import taskcluster

from tests.conftest import ROOT_TOKEN
from tests.e2e.conftest import queue_process
from tests.helpers import task_definition
from tests.workers import process_payload, wait_for_line, worker_process, worker_settings


@contextlib.contextmanager
def short_claims_queue(data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`infrax queue` with the tests' root token and 20 s claims."""
    with queue_process(
        data_dir,
        INFRAX_ROOT_ACCESS_TOKEN=ROOT_TOKEN,
        INFRAX_CLAIM_TIMEOUT="20",
        INFRAX_RESOLVER_INTERVAL="0.2",
    ) as served:
        yield served


def root_queue(root_url: str) -> taskcluster.Queue:
    credentials = {"clientId": "root", "accessToken": ROOT_TOKEN}
    return taskcluster.Queue({"rootUrl": root_url, "credentials": credentials, "maxRetries": 0})


def resolved_run(root_url: str, task_id: str, within_s: float = 90) -> dict[str, object]:
    """Run 0 of the task once the queue has resolved it."""
    queue = root_queue(root_url)
    give_up = time.monotonic() + within_s
    while time.monotonic() < give_up:
        run: dict[str, object] = queue.status(task_id)["status"]["runs"][0]
        if run["state"] not in ("pending", "running"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run 0 of {task_id} was not resolved within {within_s} s")


@pytest.mark.parametrize("gone", ["killed", "frozen"])
def test_a_worker_stopped_while_the_queue_is_gone_gives_up_its_report_and_exits_1(
    tmp_path: Path, gone: str
) -> None:
    with short_claims_queue(tmp_path / "data") as (root_url, served):
        settings = worker_settings(SimpleNamespace(root_url=root_url), tmp_path / "w", "process")
        worker = worker_process(settings, "--shutdown-grace", "0", "--shutdown-report", "2")
        try:
            wait_for_line(worker, lambda line: line.startswith("worker: "))
            task_id = taskcluster.slugId()
            definition = task_definition(
                settings.task_queue_id, payload=process_payload("echo started; sleep 600")
            )
            root_queue(root_url).createTask(task_id, definition)
            wait_for_line(worker, lambda line: " claimed " in line and task_id in line)
            served.send_signal(signal.SIGKILL if gone == "killed" else signal.SIGSTOP)
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=120)
        finally:
            worker.kill()
            worker.wait(30)
        assert worker.returncode == 1, output
        abandoned = [line for line in output.splitlines() if " report_abandoned " in line]
        assert len(abandoned) == 1, output
        assert f"task_id={task_id} run_id=0" in abandoned[0]
        assert "not reported: the queue did not answer in time" in abandoned[0]
        assert "exception/claim-expired when the claim lapses" in abandoned[0]
    if gone == "killed":
        with short_claims_queue(tmp_path / "data") as (root_url, _):
            run = resolved_run(root_url, task_id)
        assert (run["state"], run["reasonResolved"]) == ("exception", "claim-expired")
