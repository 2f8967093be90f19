"""`python -m bench --smoke` runs end to end and prints every figure, so the suite never rots.

The smoke sizes are tiny and nothing here looks at how fast anything was: only that every
figure was measured (a positive median) and compared with its baseline where it has one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.postgres import POSTGRES_URL, require, require_nginx

ROOT = Path(__file__).resolve().parents[2]
# figure -> whether it carries a baseline measured in the same run (and so a ratio)
FIGURES = {
    "lifecycle throughput": True,
    "lifecycle throughput (vs RQ)": True,
    "server CPU per task": False,
    "claim latency p50": False,
    "claim latency p99": False,
    "claim throughput, 10 pending": False,
    "claim throughput, 100 pending": True,
    "claim throughput, 1,000 pending": True,
    "claim throughput, 100 pending over 10 queues": True,
    "claim latency p99, 50 waiting": False,
    "server RSS, 50 waiting": True,
    "chain of 10: per link (claim, report, next pending)": False,
    "fan-out 100: report that schedules them": False,
    "fan-out 100 vs 10 dependents": True,
    "fan-out per dependent scheduled": True,
    "fan-in: createTask with 100 dependencies": False,
    "fan-in: per dependency resolved (8 workers)": True,
    "createTask to event p50": False,
    "createTask to event p99": False,
    "artifact upload": True,
    "artifact download": True,
}
DOCKER_FIGURES = {
    "docker task submit-to-resolved": True,
    "live log latency p50 (direct)": False,
    "live log latency p99 (direct)": False,
    "live log latency p50 (relay)": False,
    "live log latency p99 (relay)": False,
}


BASELINE_FIGURES = ("lifecycle throughput", "lifecycle throughput (vs RQ)")


def _docker_answers() -> bool:
    from bench.worker import docker_available

    return docker_available()


def _baselines_run_here() -> bool:
    """Celery and RQ installed and Redis answering (the smoke run skips them otherwise)."""
    import asyncio

    from bench.baselines import missing_baselines

    return asyncio.run(missing_baselines()) is None


def _rows(markdown: str) -> dict[str, list[str]]:
    """Table rows of the Markdown output by figure name: [unit, median, spread, rounds,
    baseline, ratio, target]."""
    rows = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 8:
            rows[cells[0]] = cells[1:]
    return rows


def test_bench_smoke_prints_every_figure_with_its_baseline(tmp_path: Path) -> None:
    results = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--markdown", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    rows = _rows(results.read_text())
    with_docker = os.environ.get("INFRAX_REQUIRE_DOCKER") == "1" or _docker_answers()
    expected = {**FIGURES, **(DOCKER_FIGURES if with_docker else {})}
    if not _baselines_run_here():
        expected |= dict.fromkeys(BASELINE_FIGURES, False)
        del expected["lifecycle throughput (vs RQ)"]
    for figure, compared in expected.items():
        assert figure in rows, done.stdout
        _unit, median, _spread, rounds, baseline, ratio, _target = rows[figure]
        assert float(median.replace(",", "")) > 0 and rounds == "1", rows[figure]
        if compared:
            assert baseline != "-" and float(ratio.rstrip("x")) > 0, rows[figure]
    assert "lifecycle throughput" in done.stdout  # and the same table on stdout


@pytest.mark.postgres
def test_bench_smoke_on_postgres_prints_the_queue_figures_for_one_and_three_replicas(
    tmp_path: Path,
) -> None:
    require()
    require_nginx()
    results = tmp_path / "results.md"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench", "--smoke", "--only", "lifecycle,latency"),
            *("--postgres", POSTGRES_URL, "--markdown", str(results)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = _rows(results.read_text())
    for label in ("", ", postgres x1", ", postgres x3 + nginx"):
        for figure in ("lifecycle throughput", "claim latency p50", "claim latency p99"):
            assert figure + label in rows, done.stdout
            median = rows[figure + label][1]
            assert float(median.replace(",", "")) > 0, rows[figure + label]
