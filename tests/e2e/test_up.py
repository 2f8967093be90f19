"""`infrax up` end to end: the whole system from one command, the CLI used against it from
the same directory with nothing configured, and stopping it cleanly or on a child's death."""

from __future__ import annotations

import json
import signal
import stat
import urllib.error
import urllib.request
from pathlib import Path

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

        hello = up.infrax("submit", "--follow", "--", "echo", "hello")
        assert hello.returncode == 0, hello.stderr
        assert "hello" in hello.stdout.splitlines()
        task_id = hello.stderr.split()[1]  # `task    <taskId>` first, on stderr with --follow
        status = json.loads(up.infrax("status", task_id, "--json").stdout)["status"]
        assert (status["state"], status["taskQueueId"]) == ("completed", "local/process")
        failed = up.infrax("submit", "--wait", "--", "sh", "-c", "exit 3")
        assert failed.returncode == 1, failed.stderr

        code, err = up.stop(signal.SIGINT)
    assert code == 0, err
    assert not local.exists()
    assert not any(answers(url) for url in services)


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
    with running_up(tmp_path) as up:
        assert up.value("taskQueueId") == "local/docker"
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
