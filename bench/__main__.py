"""`python -m bench`: run the figures and print one table (bench/README.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .artifacts import TransferRound, run_transfer_round
from .cluster import running_cluster
from .latency import run_latency_round
from .lifecycle import LifecycleRound, LifecycleSizes, run_lifecycle_round
from .postgres import DEFAULT_URL, fresh_schema
from .report import Figure, machine, percentile, render, summarize
from .server import BenchError, Deployed, Deployment, running_queue

LIFECYCLE = "lifecycle throughput"
CLAIM_P50 = "claim latency p50"
CLAIM_P99 = "claim latency p99"
UPLOAD = "artifact upload"
DOWNLOAD = "artifact download"
RAW_COPY = "raw file copy to disk"
CACHED_COPY = "  raw copy to the page cache"
UPLOAD_RATIO = "upload / raw copy"
DOWNLOAD_RATIO = "download / raw copy"
UPLOAD_RSS = "server RSS growth during upload"
MIB = 1024 * 1024


SCHEMA_PREFIX = "infrax_bench_"


@dataclass(frozen=True)
class Plan:
    rounds: int
    lifecycle: LifecycleSizes
    latency_samples: int
    artifact_bytes: int
    postgres_url: str | None  # also measure PostgreSQL, 1 replica and 3 behind nginx


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


def targets(plan: Plan) -> list[Target]:
    found = [Target("", running_queue)]
    if plan.postgres_url is not None:
        found += [
            Target(", postgres x1", _on_postgres(plan.postgres_url, 1)),
            Target(", postgres x3 + nginx", _on_postgres(plan.postgres_url, 3)),
        ]
    return found


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 round (for CI)")
    parser.add_argument("--rounds", type=int, help="rounds of each figure [5; smoke: 1]")
    parser.add_argument("--tasks", type=int, help="tasks per lifecycle round [2000; smoke: 64]")
    parser.add_argument("--workers", type=int, default=8, help="worker coroutines [8]")
    parser.add_argument("--creators", type=int, default=8, help="creator coroutines [8]")
    parser.add_argument("--samples", type=int, help="claim latency samples per round [200; 10]")
    parser.add_argument(
        "--artifact-mib", type=int, help="artifact size for the transfer figures [100; smoke: 4]"
    )
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=DEFAULT_URL,
        metavar="URL",
        help="also measure PostgreSQL (a schema of its own per round), with 1 replica and with"
        f" 3 behind nginx [{DEFAULT_URL}]",
    )
    return parser


def plan_from(argv: Sequence[str]) -> Plan:
    args = _parser().parse_args(list(argv))
    rounds = args.rounds or (1 if args.smoke else 5)
    tasks = args.tasks or (64 if args.smoke else 2000)
    samples = args.samples or (10 if args.smoke else 200)
    artifact_mib = args.artifact_mib or (4 if args.smoke else 100)
    if min(rounds, tasks, samples, args.workers, args.creators, artifact_mib) < 1:
        _parser().error(
            "rounds, tasks, samples, workers, creators and artifact-mib must be at least 1"
        )
    warmup = 0 if args.smoke else 64
    lifecycle = LifecycleSizes(tasks, args.workers, args.creators, warmup)
    return Plan(rounds, lifecycle, samples, artifact_mib * MIB, args.postgres)


def _cpu_figures(rounds: Sequence[LifecycleRound], label: str) -> list[Figure]:
    figures = [
        summarize(
            f"  server CPU during lifecycle{label}",
            "% of a core",
            [100 * r.server_cpu_s / r.wall_s for r in rounds if r.server_cpu_s is not None],
        )
    ]
    figures.append(
        summarize(
            f"  client CPU during lifecycle{label}",
            "% of a core",
            [100 * r.client_cpu_s / r.wall_s for r in rounds],
        )
    )
    return [f for f in figures if f.rounds]


def _transfer_figures(rounds: Sequence[TransferRound]) -> list[Figure]:
    figures = [
        summarize(UPLOAD, "MB/s", [r.mb_per_s(r.upload_s) for r in rounds]),
        summarize(DOWNLOAD, "MB/s", [r.mb_per_s(r.download_s) for r in rounds]),
        summarize(RAW_COPY, "MB/s", [r.mb_per_s(r.copy_s) for r in rounds]),
        summarize(CACHED_COPY, "MB/s", [r.mb_per_s(r.cached_copy_s) for r in rounds]),
        summarize(UPLOAD_RATIO, "x", [r.copy_s / r.upload_s for r in rounds]),
        summarize(DOWNLOAD_RATIO, "x", [r.copy_s / r.download_s for r in rounds]),
    ]
    growth = [r.upload_rss_growth / MIB for r in rounds if r.upload_rss_growth is not None]
    if growth:
        figures.append(summarize(UPLOAD_RSS, "MiB", growth))
    return figures


async def _measure(plan: Plan, target: Target) -> list[Figure]:
    label, deploy = target.label, target.deploy
    lifecycle = [await run_lifecycle_round(plan.lifecycle, deploy) for _ in range(plan.rounds)]
    latency = [await run_latency_round(plan.latency_samples, deploy) for _ in range(plan.rounds)]
    return [
        summarize(LIFECYCLE + label, "tasks/s", [r.tasks_per_s for r in lifecycle]),
        *_cpu_figures(lifecycle, label),
        summarize(CLAIM_P50 + label, "ms", [percentile(r.samples_ms, 50) for r in latency]),
        summarize(CLAIM_P99 + label, "ms", [percentile(r.samples_ms, 99) for r in latency]),
    ]


async def run(plan: Plan) -> list[Figure]:
    figures = [figure for target in targets(plan) for figure in await _measure(plan, target)]
    transfers = [await run_transfer_round(plan.artifact_bytes) for _ in range(plan.rounds)]
    return [*figures, *_transfer_figures(transfers)]


def main(argv: Sequence[str]) -> int:
    plan = plan_from(argv)
    began = time.perf_counter()
    try:
        figures = asyncio.run(run(plan))
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    sizes = plan.lifecycle
    notes = [
        f"machine: {machine()}",
        f"lifecycle: {sizes.tasks} no-op tasks/round, {sizes.creators} creators,"
        f" {sizes.workers} workers claiming up to 32; claim latency: {plan.latency_samples}"
        f" samples/round; artifacts: {plan.artifact_bytes // MIB} MiB (s3 PUT and GET),"
        f" raw copy: shutil.copyfile + fsync on the same disk; {plan.rounds} round(s);"
        f" took {time.perf_counter() - began:.1f} s",
    ]
    stores = "SQLite" if plan.postgres_url is None else "SQLite, then PostgreSQL"
    title = f"infrax queue benchmarks (servers in their own processes; {stores})"
    print(render(title, notes, figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
