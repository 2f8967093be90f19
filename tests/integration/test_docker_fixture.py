"""The Docker test support: the local image runs, and a Docker skip fails when CI requires it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[2]
SKIPS = """
    import pytest

    @pytest.mark.docker
    def test_skips():
        pytest.skip("no engine in this pretend run")
    """
USES_EACH_ENGINE = """
    def test_runs_on_each_engine(engine, image):
        assert image == ""
    """
NO_ENGINE = "unix:///nonexistent/docker.sock"


def test_busybox_image_runs_a_shell_as_nobody(
    docker_client: docker.DockerClient, busybox_image: str
) -> None:
    output = docker_client.containers.run(
        busybox_image, ["sh", "-c", "id -u; echo $PATH"], remove=True, user="65534"
    )
    assert output.decode().split() == ["65534", "/bin"]


def _run_skipping_test(
    tmp_path: Path, require: str, source: str = SKIPS, **env: str
) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test_needs_docker.py"
    test.write_text(textwrap.dedent(source))
    env = {"PATH": "/usr/bin:/bin", "INFRAX_REQUIRE_DOCKER": require, **env}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.conftest",
            "--rootdir",
            str(tmp_path),
            "-c",
            "/dev/null",
            str(test),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_a_docker_skip_is_a_failure_when_docker_is_required(tmp_path: Path) -> None:
    required = _run_skipping_test(tmp_path, "1")
    assert required.returncode == 1, required.stdout
    assert "INFRAX_REQUIRE_DOCKER=1, so this skip is a failure" in required.stdout
    relaxed = _run_skipping_test(tmp_path, "0")
    assert relaxed.returncode == 0, relaxed.stdout
    assert "1 skipped" in relaxed.stdout


def test_the_docker_engine_parameter_fails_without_an_engine_when_docker_is_required(
    tmp_path: Path,
) -> None:
    required = _run_skipping_test(tmp_path, "1", USES_EACH_ENGINE, DOCKER_HOST=NO_ENGINE)
    assert required.returncode == 1, required.stdout
    # the skip is raised while the test is set up, so it is reported as an error
    assert "1 passed" in required.stdout and "1 error" in required.stdout
    assert "INFRAX_REQUIRE_DOCKER=1, so this skip is a failure" in required.stdout
    assert "no Docker engine answers" in required.stdout
    relaxed = _run_skipping_test(tmp_path, "0", USES_EACH_ENGINE, DOCKER_HOST=NO_ENGINE)
    assert relaxed.returncode == 0, relaxed.stdout
    assert "1 passed, 1 skipped" in relaxed.stdout
