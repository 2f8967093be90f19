"""Resource monitoring: the task's CPU time and memory, sampled while it runs, summed up in
the task log and uploaded as `public/logs/resources.json`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engines.base import Usage

if TYPE_CHECKING:
    from ..run import Run

__all__ = ["RESOURCES_ARTIFACT", "ResourceMonitor", "Sample", "summary"]

RESOURCES_ARTIFACT = "public/logs/resources.json"
MIB = 2**20


@dataclass(frozen=True)
class Sample:
    at_s: float  # seconds since the start
    usage: Usage


def summary(samples: Sequence[Sample], interval_s: float) -> dict[str, Any]:
    """The resources.json document (pure): totals first, then every sample."""
    peaks = [s.usage.peak_memory_bytes or 0 for s in samples]
    peak = max([*peaks, *(s.usage.memory_bytes for s in samples), 0])
    return {
        "cpuSeconds": round(max((s.usage.cpu_s for s in samples), default=0.0), 3),
        "peakMemoryBytes": peak,
        "sampleIntervalSeconds": interval_s,
        "samples": [
            {
                "t": round(s.at_s, 3),
                "cpuSeconds": round(s.usage.cpu_s, 3),
                "memoryBytes": s.usage.memory_bytes,
            }
            for s in samples
        ],
    }


class ResourceMonitor:
    name = "resourceMonitor"

    def is_requested(self, run: Run) -> bool:
        return run.execution is not None

    @asynccontextmanager
    async def enter(self, run: Run) -> AsyncIterator[None]:
        samples: list[Sample] = []
        sampler = asyncio.create_task(_sample(run, samples))
        try:
            yield
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        document = summary(samples, run.settings.sample_interval_s)
        run.log.line(
            f"resources: CPU {document['cpuSeconds']:.2f} s, peak memory"
            f" {document['peakMemoryBytes'] / MIB:.1f} MiB ({len(samples)} samples)"
        )
        if run.uploads_wanted:
            run.staging.mkdir(parents=True, exist_ok=True)
            path = run.staging / "resources.json"
            path.write_text(json.dumps(document))
            await run.uploads.file(RESOURCES_ARTIFACT, path, "application/json", run.task.expires)


async def _sample(run: Run, samples: list[Sample]) -> None:
    assert run.execution is not None
    began = time.monotonic()
    while True:
        usage = await run.execution.usage()
        if usage is not None:
            samples.append(Sample(time.monotonic() - began, usage))
        await asyncio.sleep(run.settings.sample_interval_s)
