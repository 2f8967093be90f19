"""`python -m bench.requestcost` runs end to end and prints a cost for every figure.

Nothing here looks at how large a cost is: only that each figure was measured, with the
server's CPU split into its event loop and its other threads (the SQLite thread writes only
for createTask and the lifecycle).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(
    r"^(?P<figure>\w+) +server +(?P<server>[\d.]+) us \(event loop +(?P<loop>[\d.]+),"
    r" other threads +(?P<other>[\d.]+)\) +load generator +(?P<client>[\d.]+) us +\d+/s$"
)


def test_requestcost_prints_each_figure_split_by_thread() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.requestcost", "--requests", "320"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = {}
    for line in done.stdout.splitlines():
        match = LINE.match(line)
        assert match is not None, line
        found[match["figure"]] = {
            key: float(value) for key, value in match.groupdict().items() if key != "figure"
        }
    assert list(found) == ["ping", "signed", "create", "lifecycle"]
    for figure, cost in found.items():
        assert cost["server"] > 0 and cost["client"] > 0, figure
        assert abs(cost["server"] - cost["loop"] - cost["other"]) < 0.2, figure
    assert found["create"]["other"] > 0 and found["lifecycle"]["other"] > 0  # the SQLite thread


def test_requestcost_refuses_an_unknown_figure() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.requestcost", "--only", "create,bogus"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "unknown figure(s) bogus" in done.stderr
