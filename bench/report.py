"""Figures summarised over rounds, the machine they ran on, and the table that shows them."""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Figure", "machine", "percentile", "render", "summarize"]


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str
    median: float
    low: float
    high: float
    rounds: int


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank q-th percentile (0 < q <= 100) of non-empty values."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(name: str, unit: str, per_round: Sequence[float]) -> Figure:
    """The median over rounds, and min-max over rounds as the spread."""
    return Figure(
        name, unit, statistics.median(per_round), min(per_round), max(per_round), len(per_round)
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    cores = os.cpu_count() or 0
    python = f"{platform.python_implementation()} {sys.version.split()[0]}"
    return f"{cores} cores ({_cpu_model()}), {python}, {platform.system()} {platform.release()}"


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render(title: str, notes: Sequence[str], figures: Sequence[Figure]) -> str:
    header = ("figure", "unit", "median", "spread (min-max over rounds)", "rounds")
    rows = [
        (f.name, f.unit, _number(f.median), f"{_number(f.low)}-{_number(f.high)}", str(f.rounds))
        for f in figures
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {2, 3, 4}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([title, *notes, "", line(header), rule, *(line(row) for row in rows)])
