"""`python -m bench --smoke` runs end to end and prints every figure, so the suite never rots."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.postgres import POSTGRES_URL, require, require_nginx

ROOT = Path(__file__).resolve().parents[2]
FIGURES = (
    "lifecycle throughput",
    "claim latency p50",
    "claim latency p99",
    "artifact upload",
    "artifact download",
    "raw file copy to disk",
    "upload / raw copy",
    "download / raw copy",
    "createTask to event p50",
    "createTask to event p99",
)


DOCKER_FIGURES = (
    "docker task submit-to-resolved",
    "raw docker run --rm",
    "worker overhead (task / raw)",
    "live log latency p50 (direct)",
    "live log latency p99 (direct)",
    "live log latency p50 (relay)",
    "live log latency p99 (relay)",
)


def _docker_answers() -> bool:
    from bench.worker import docker_available

    return docker_available()


def test_bench_smoke_prints_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split("  ")[0].strip(): line for line in done.stdout.splitlines()}
    with_docker = os.environ.get("INFRAX_REQUIRE_DOCKER") == "1" or _docker_answers()
    expected = FIGURES + (DOCKER_FIGURES if with_docker else ())
    for figure in expected:
        assert figure in rows, done.stdout
        median = rows[figure].split()[-3]
        assert float(median.replace(",", "")) > 0, rows[figure]


@pytest.mark.postgres
def test_bench_smoke_on_postgres_prints_the_queue_figures_for_one_and_three_replicas() -> None:
    require()
    require_nginx()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--no-docker", "--postgres", POSTGRES_URL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split("  ")[0].strip(): line for line in done.stdout.splitlines()}
    for label in ("", ", postgres x1", ", postgres x3 + nginx"):
        for figure in ("lifecycle throughput", "claim latency p50", "claim latency p99"):
            assert figure + label in rows, done.stdout
            median = rows[figure + label].split()[-3]
            assert float(median.replace(",", "")) > 0, rows[figure + label]
