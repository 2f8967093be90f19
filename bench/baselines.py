"""Baselines of figure 1 measured in the same run: Celery and RQ on the local Redis.

Each runs in its own process (bench/celery_side.py, bench/rq_side.py) with its own workers:
no-op tasks from one producer, timed from the first send to the last result stored. Redis is
found at $INFRAX_BENCH_REDIS (default redis://127.0.0.1:6379/0); every key the baselines make
is under names of their own, and removed or expiring afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .server import BenchError

__all__ = ["BASELINES", "BaselineRound", "missing_baselines", "run_baseline_round"]

ROOT = Path(__file__).resolve().parents[1]
REDIS_VARIABLE = "INFRAX_BENCH_REDIS"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
# name -> (module run as the baseline's process, the package it needs, its concurrency)
BASELINES = {
    "Celery+Redis": ("bench.celery_side", "celery", 2),
    "RQ": ("bench.rq_side", "rq", 2),
}
ROUND_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class BaselineRound:
    name: str
    tasks: int
    wall_s: float

    @property
    def tasks_per_s(self) -> float:
        return self.tasks / self.wall_s


def redis_url() -> str:
    return os.environ.get(REDIS_VARIABLE, DEFAULT_REDIS)


async def _redis_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 6379), 5
        )
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(b"PING\r\n")
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), 5)).startswith((b"+PONG", b"-NOAUTH"))
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


def _installed(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is not None


async def missing_baselines() -> str | None:
    """Why the baselines cannot run here (no Redis, a package missing), or None."""
    missing = [package for _, package, _ in BASELINES.values() if not _installed(package)]
    if missing:
        return f"{', '.join(missing)} not installed (pip install -e '.[bench]')"
    if not await _redis_answers(redis_url()):
        return f"no Redis answers at {redis_url()} (${REDIS_VARIABLE})"
    return None


async def run_baseline_round(name: str, tasks: int) -> BaselineRound:
    module, _, concurrency = BASELINES[name]
    env = {
        **os.environ,
        REDIS_VARIABLE: redis_url(),
        "INFRAX_BENCH_CELERY_QUEUE": f"infrax-bench-{uuid.uuid4().hex[:12]}",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, str(tasks), str(concurrency),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), ROUND_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise BenchError(f"the {name} baseline did not finish in {ROUND_TIMEOUT_S:.0f} s") from None
    if process.returncode != 0:
        raise BenchError(f"the {name} baseline failed: {err.decode(errors='replace')[-1500:]}")
    found = json.loads(out.decode().strip().splitlines()[-1])
    return BaselineRound(name, int(found["tasks"]), float(found["wall_s"]))
