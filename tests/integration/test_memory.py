"""The queue's process reuses the memory of freed buffers (queue_server/memory.py): buffers
made and freed in bursts, as an upload's are, are not faulted in again each time."""

from __future__ import annotations

import subprocess
import sys

import pytest

BURSTS = """
import resource, sys
from queue_server.memory import keep_freed_memory

if sys.argv[1] == "kept" and not keep_freed_memory():
    print("unsupported")
    raise SystemExit


def burst():
    held = [bytes(256 * 1024) for _ in range(16)]  # 4 MiB in flight, then all freed
    del held


burst()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    burst()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", BURSTS, mode], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_freed_buffers_are_reused_rather_than_faulted_in_again() -> None:
    kept = _faults("kept")
    if kept == "unsupported":
        pytest.skip("not glibc's malloc")
    by_default = int(_faults("default"))
    # 50 bursts of 4 MiB are 51,200 pages; kept, only the first burst's pages are faulted in.
    assert int(kept) < 1024 < by_default
