"""`python -m bench --smoke` runs end to end and prints every figure, so the suite never rots."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.postgres import POSTGRES_URL, require, require_nginx

ROOT = Path(__file__).resolve().parents[2]
QUEUE_FIGURES = ("lifecycle throughput", "claim latency p50", "claim latency p99")
FIGURES = (
    "lifecycle throughput",
    "claim latency p50",
    "claim latency p99",
    "artifact upload",
    "artifact download",
    "raw file copy to disk",
    "upload / raw copy",
    "download / raw copy",
)


def _run_bench(*args: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    return {line.split("  ")[0].strip(): line for line in done.stdout.splitlines()}


def _assert_figures(
    rows: dict[str, str], label: str = "", figures: tuple[str, ...] = FIGURES
) -> None:
    for figure in figures:
        assert figure + label in rows, rows
        median = rows[figure + label].split()[-3]
        assert float(median.replace(",", "")) > 0, rows[figure + label]


def test_bench_smoke_prints_every_figure() -> None:
    _assert_figures(_run_bench())


@pytest.mark.postgres
def test_bench_smoke_on_postgres_prints_every_figure_for_one_and_three_replicas() -> None:
    require()
    require_nginx()
    rows = _run_bench("--postgres", POSTGRES_URL)
    _assert_figures(rows)
    for label in (", postgres x1", ", postgres x3 + nginx"):
        _assert_figures(rows, label, QUEUE_FIGURES)
