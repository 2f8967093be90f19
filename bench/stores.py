"""The queue figures (lifecycle throughput, claim latency) per store: SQLite, and with
`--postgres` PostgreSQL with one replica and with three behind nginx (bench/README.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .cluster import running_cluster
from .latency import run_latency_round
from .lifecycle import LifecycleRound, LifecycleSizes, run_lifecycle_round
from .postgres import fresh_schema
from .report import Figure, percentile, summarize
from .server import Deployed, Deployment, running_queue

__all__ = ["CLAIM_P50", "CLAIM_P99", "LIFECYCLE", "Target", "queue_figures", "targets"]

LIFECYCLE = "lifecycle throughput"
CLAIM_P50 = "claim latency p50"
CLAIM_P99 = "claim latency p99"
SCHEMA_PREFIX = "infrax_bench_"


@dataclass(frozen=True)
class Target:
    label: str  # after the figure's name; "" for the SQLite baseline
    deploy: Deployment


def _on_postgres(url: str, replicas: int) -> Deployment:
    """A fresh schema per round; one replica called directly, or several behind nginx."""

    @asynccontextmanager
    async def deploy() -> AsyncIterator[Deployed]:
        async with fresh_schema(url, SCHEMA_PREFIX) as schema_url:
            if replicas == 1:
                async with running_queue(database_url=schema_url) as queue:
                    yield queue
            else:
                async with running_cluster(replicas, schema_url) as cluster:
                    yield cluster

    return deploy


def targets(postgres_url: str | None) -> list[Target]:
    found = [Target("", running_queue)]
    if postgres_url is not None:
        found += [
            Target(", postgres x1", _on_postgres(postgres_url, 1)),
            Target(", postgres x3 + nginx", _on_postgres(postgres_url, 3)),
        ]
    return found


def _cpu_figures(rounds: Sequence[LifecycleRound], label: str) -> list[Figure]:
    figures = [
        summarize(
            f"  server CPU during lifecycle{label}",
            "% of a core",
            [100 * r.server_cpu_s / r.wall_s for r in rounds if r.server_cpu_s is not None],
        ),
        summarize(
            f"  client CPU during lifecycle{label}",
            "% of a core",
            [100 * r.client_cpu_s / r.wall_s for r in rounds],
        ),
    ]
    return [f for f in figures if f.rounds]


async def _measure(
    target: Target, rounds: int, sizes: LifecycleSizes, samples: int
) -> list[Figure]:
    label, deploy = target.label, target.deploy
    lifecycle = [await run_lifecycle_round(sizes, deploy) for _ in range(rounds)]
    latency = [await run_latency_round(samples, deploy) for _ in range(rounds)]
    return [
        summarize(LIFECYCLE + label, "tasks/s", [r.tasks_per_s for r in lifecycle]),
        *_cpu_figures(lifecycle, label),
        summarize(CLAIM_P50 + label, "ms", [percentile(r.samples_ms, 50) for r in latency]),
        summarize(CLAIM_P99 + label, "ms", [percentile(r.samples_ms, 99) for r in latency]),
    ]


async def queue_figures(
    rounds: int, sizes: LifecycleSizes, samples: int, postgres_url: str | None
) -> list[Figure]:
    """The queue figures on SQLite, then (with a URL) on PostgreSQL."""
    return [
        figure
        for target in targets(postgres_url)
        for figure in await _measure(target, rounds, sizes, samples)
    ]
