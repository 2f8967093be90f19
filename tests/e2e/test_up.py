"""`infrax up` end to end: the whole system from one command, the CLI used against it from
the same directory with nothing configured, and stopping it cleanly or on a child's death."""

from __future__ import annotations

import contextlib
import errno
import json
import signal
import socket
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from tests.e2e.system import infrax_in, running_up


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def test_up_runs_the_system_that_submit_uses_unconfigured_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    with running_up(tmp_path, "--engine", "process") as up:
        assert up.lines[0].startswith("rootUrl: http://127.0.0.1:"), up.lines
        assert up.value("web") == f"{up.root_url}/"
        assert up.value("taskQueueId") == "local/process"
        local = up.data_dir / "local.json"
        assert up.value("credentials") == str(local)
        assert stat.S_IMODE(local.stat().st_mode) == 0o600
        saved = json.loads(local.read_text())
        assert (saved["rootUrl"], saved["taskQueueId"]) == (up.root_url, "local/process")
        services = [up.root_url, up.value("hooksRootUrl"), up.value("workerManagerRootUrl")]
        assert all(answers(url) for url in services)
        second = infrax_in(tmp_path, "up", "--port", "0", timeout=60)
        assert second.returncode == 1
        assert "another `infrax up` runs with" in second.stderr
        assert local.exists()

        hello = up.infrax("submit", "--follow", "--", "echo", "hello")
        assert hello.returncode == 0, hello.stderr
        assert "hello" in hello.stdout.splitlines()
        task_id = hello.stderr.split()[1]  # `task    <taskId>` first, on stderr with --follow
        status = json.loads(up.infrax("status", task_id, "--json").stdout)["status"]
        assert (status["state"], status["taskQueueId"]) == ("completed", "local/process")
        scripted = up.infrax("submit", "--follow", "--json", "--", "sh", "-c", "echo a; exit 4")
        assert scripted.returncode == 1, scripted.stderr
        assert json.loads(scripted.stdout)["status"]["state"] == "failed"
        assert "a" in scripted.stderr.splitlines()  # with --json the log goes to stderr
        failed = up.infrax("submit", "--wait", "--", "sh", "-c", "exit 3")
        assert failed.returncode == 1, failed.stderr
        pools = up.infrax("pools", "--json", "list")  # the provisioner of `infrax up`, no pools
        assert (pools.returncode, json.loads(pools.stdout or "null")) == (0, []), pools.stderr

        code, err = up.stop(signal.SIGINT)
    assert code == 0, err
    assert not local.exists()
    assert not any(answers(url) for url in services)


def until(condition: Callable[[], bool], deadline_s: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after `deadline_s`."""
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, f"still not {what} after {deadline_s} s"
        time.sleep(0.05)


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            return False
        return True


def test_up_killed_by_sigkill_takes_its_children_and_their_tasks_along(tmp_path: Path) -> None:
    with running_up(tmp_path, "--engine", "process") as up:
        submitted = up.infrax("submit", "--", "sleep", "600")
        assert submitted.returncode == 0, submitted.stderr
        below = psutil.Process(up.process.pid)
        until(
            lambda: any("sleep" in p.name() for p in below.children(recursive=True)),
            60,
            "running the task",
        )
        descendants = below.children(recursive=True)
        assert len(below.children()) == 4
        port = urlsplit(up.root_url).port
        assert port is not None and not port_free(port)
        up.process.kill()
        up.process.wait(timeout=30)
        try:
            until(lambda: all(gone(p) for p in descendants), 60, "gone: every child and task")
            until(lambda: port_free(port), 10, "free: the queue's port")
        finally:  # on failure, leave nothing running
            for process in descendants:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()


def test_commands_without_a_system_say_how_to_get_one(tmp_path: Path) -> None:
    done = infrax_in(tmp_path, "status", "abc")
    assert done.returncode == 2
    assert "infrax up" in done.stderr
    assert str(Path("infrax-data") / "local.json") in done.stderr


def test_up_stops_the_rest_when_a_child_dies(tmp_path: Path) -> None:
    with running_up(tmp_path, "--engine", "process") as up:
        children = psutil.Process(up.process.pid).children()
        assert len(children) == 4
        worker = next(c for c in children if "worker" in c.cmdline())
        worker.kill()
        _, err = up.process.communicate(timeout=90)
        assert up.process.returncode == 1
        assert "the worker exited with code -9" in err
        assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
        assert not (up.data_dir / "local.json").exists()


def test_up_serves_local_docker_and_a_missing_image_fails_the_task_quickly(
    tmp_path: Path, busybox_image: str
) -> None:
    absent_image = "infrax-test/absent:none"
    with running_up(tmp_path, env={"INFRAX_IMAGE": absent_image}) as up:
        assert up.value("taskQueueId") == "local/docker"
        hint = next(line for line in up.lines if line.startswith("try: "))
        assert f"Docker pulls {absent_image} first" in hint
        hello = up.infrax("submit", "--image", busybox_image, "--follow", "--", "echo", "hi")
        assert hello.returncode == 0, hello.stderr
        assert "hi" in hello.stdout.splitlines()
        absent = up.infrax("submit", "--image", "infrax-test/absent:none", "--follow", "--", "true")
        assert absent.returncode == 3, absent.stderr
        assert "infrax-test/absent:none" in absent.stdout
        assert "exception" in absent.stderr
        code, err = up.stop(signal.SIGTERM)
    assert code == 0, err


def test_submit_follow_and_wait_exclude_each_other(tmp_path: Path) -> None:
    done = infrax_in(tmp_path, "submit", "--follow", "--wait", "--", "true")
    assert done.returncode == 2
    assert "not allowed with" in done.stderr


def test_queue_says_in_one_line_why_it_cannot_listen(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = infrax_in(tmp_path, "queue", "--data-dir", "d", "--port", str(port), timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1:] == [
        f"infrax queue: cannot listen on 127.0.0.1:{port}: address already in use"
    ], done.stderr
    assert "Traceback" not in done.stderr
    for host, reason in (
        ("192.0.2.1", "cannot assign requested address"),  # TEST-NET-1: not this machine's
        ("no-such-host.invalid", ""),  # the resolver's words vary
    ):
        done = infrax_in(tmp_path, "queue", "--data-dir", "d", "--host", host, "--port", "0")
        assert done.returncode == 1
        assert done.stderr.splitlines()[-1].startswith(
            f"infrax queue: cannot listen on {host}:0: {reason}"
        ), done.stderr
        assert "Traceback" not in done.stderr


def test_up_names_a_taken_port_and_keeps_the_previous_run_log(tmp_path: Path) -> None:
    logs = tmp_path / "infrax-data" / "logs"
    logs.mkdir(parents=True)
    (logs / "queue.log").write_text("the run before\n")
    (logs / "queue.log.1").write_text("two runs before\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = infrax_in(tmp_path, "up", "--port", str(port), "--engine", "process", timeout=90)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in done.stderr
    assert "Traceback" not in done.stderr
    assert (logs / "queue.log.1").read_text() == "the run before\n"
    assert "cannot listen on" in (logs / "queue.log").read_text()
    assert "the run before" not in (logs / "queue.log").read_text()
