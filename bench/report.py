"""Figures summarised over rounds, the machine they ran on, and the table that shows them."""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = [
    "Figure",
    "compare",
    "load",
    "machine",
    "percentile",
    "render",
    "render_markdown",
    "summarize",
    "with_target",
]


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str
    median: float
    low: float
    high: float
    rounds: int
    baseline: str = ""  # what it is compared with, measured in the same run, and its median
    ratio: float | None = None  # this figure over the baseline (median of per-round ratios)
    target: str = ""


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank q-th percentile (0 < q <= 100) of non-empty values."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(name: str, unit: str, per_round: Sequence[float], target: str = "") -> Figure:
    """The median over rounds, and min-max over rounds as the spread."""
    return Figure(
        name,
        unit,
        statistics.median(per_round),
        min(per_round),
        max(per_round),
        len(per_round),
        target=target,
    )


def compare(
    figure: Figure,
    baseline_name: str,
    baseline_per_round: Sequence[float],
    ratios: Sequence[float] | None = None,
    target: str = "",
) -> Figure:
    """The figure against a baseline measured in the same run: per-round `ratios` when the two
    were measured in the same rounds, else the ratio of the medians."""
    base = statistics.median(baseline_per_round)
    ratio = statistics.median(ratios) if ratios else figure.median / base
    label = f"{baseline_name} {_number(base)}"
    return replace(figure, baseline=label, ratio=ratio, target=target or figure.target)


def with_target(figure: Figure, target: str) -> Figure:
    return replace(figure, target=target)


def load() -> str:
    """The 1-minute load average now (how busy the machine was while a figure ran)."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


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


HEADER = ("figure", "unit", "median", "spread (min-max)", "rounds", "baseline", "ratio", "target")


def _cells(figure: Figure) -> tuple[str, ...]:
    spread = f"{_number(figure.low)}-{_number(figure.high)}"
    ratio = "" if figure.ratio is None else f"{figure.ratio:.2f}x"
    return (
        figure.name,
        figure.unit,
        _number(figure.median),
        spread,
        str(figure.rounds),
        figure.baseline,
        ratio,
        figure.target,
    )


def render(title: str, notes: Sequence[str], figures: Sequence[Figure]) -> str:
    rows = [_cells(f) for f in figures]
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    right = {2, 3, 4, 6}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([title, *notes, "", line(HEADER), rule, *(line(row) for row in rows)])


def render_markdown(title: str, notes: Sequence[str], figures: Sequence[Figure]) -> str:
    """The same table in Markdown, for docs/benchmarks.md."""
    lines = [f"**{title}**", "", *(f"- {note}" for note in notes), ""]
    lines.append("| " + " | ".join(HEADER) + " |")
    lines.append("|" + "|".join(" --- " for _ in HEADER) + "|")
    for figure in figures:
        cells = [c.strip().replace("|", "\\|") or "-" for c in _cells(figure)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
