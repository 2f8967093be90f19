"""`python -m bench`: run the figures and print one table (bench/README.md)."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .artifacts import TransferRound, run_transfer_round
from .events import amqp_available, event_figures
from .lifecycle import LifecycleSizes
from .livelog import LivelogRound, run_livelog_round
from .postgres import DEFAULT_URL
from .report import Figure, machine, percentile, render, summarize
from .server import BenchError
from .stores import queue_figures
from .worker import WorkerRound, docker_available, run_worker_round

UPLOAD = "artifact upload"
DOWNLOAD = "artifact download"
RAW_COPY = "raw file copy to disk"
CACHED_COPY = "  raw copy to the page cache"
UPLOAD_RATIO = "upload / raw copy"
DOWNLOAD_RATIO = "download / raw copy"
UPLOAD_RSS = "server RSS growth during upload"
DOCKER_TASK = "docker task submit-to-resolved"
DOCKER_RAW = "raw docker run --rm"
WORKER_OVERHEAD = "worker overhead (task / raw)"
LIVELOG = "live log latency {q} ({path})"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Plan:
    rounds: int
    lifecycle: LifecycleSizes
    latency_samples: int
    artifact_bytes: int
    docker_samples: int  # 0: no Docker figures
    postgres_url: str | None = None  # also the queue figures on PostgreSQL (bench/stores.py)
    amqp: bool = True  # the AMQP outbox figures (skipped when no RabbitMQ answers)
    log_lines: int = 40  # live-log latency samples per round and path

    @property
    def worker_rounds(self) -> int:
        return self.rounds if self.docker_samples else 0


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
        "--docker-samples", type=int, help="Docker task samples per round [20; smoke: 3]"
    )
    parser.add_argument(
        "--log-lines", type=int, help="live-log latency samples per round and path [500; 40]"
    )
    parser.add_argument("--no-docker", action="store_true", help="skip the Docker figures")
    parser.add_argument("--no-amqp", action="store_true", help="skip the AMQP outbox figures")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=DEFAULT_URL,
        metavar="URL",
        help="also the queue figures on PostgreSQL (a schema of its own per round), with 1"
        f" replica and with 3 behind nginx [{DEFAULT_URL}]",
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
    docker_samples = 0 if args.no_docker else args.docker_samples or (3 if args.smoke else 20)
    log_lines = args.log_lines or (40 if args.smoke else 500)
    return Plan(
        rounds, lifecycle, samples, artifact_mib * MIB, docker_samples, args.postgres,
        not args.no_amqp, log_lines,
    )  # fmt: skip


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


def _worker_figures(rounds: Sequence[WorkerRound]) -> list[Figure]:
    if not rounds:
        return []
    return [
        summarize(DOCKER_TASK, "ms", [1000 * statistics.median(r.task_s) for r in rounds]),
        summarize(DOCKER_RAW, "ms", [1000 * statistics.median(r.raw_s) for r in rounds]),
        summarize(WORKER_OVERHEAD, "x", [r.ratio for r in rounds]),
    ]


def _livelog_figures(rounds: dict[str, list[LivelogRound]]) -> list[Figure]:
    return [
        summarize(
            LIVELOG.format(q=f"p{q}", path=path),
            "ms",
            [percentile(r.samples_ms, q) for r in path_rounds],
        )
        for path, path_rounds in rounds.items()
        if path_rounds
        for q in (50, 99)
    ]


async def run(plan: Plan) -> list[Figure]:
    queue = await queue_figures(
        plan.rounds, plan.lifecycle, plan.latency_samples, plan.postgres_url
    )
    events = await event_figures(plan.rounds, plan.lifecycle, plan.latency_samples, plan.amqp)
    transfers = [await run_transfer_round(plan.artifact_bytes) for _ in range(plan.rounds)]
    workers = [await run_worker_round(plan.docker_samples) for _ in range(plan.worker_rounds)]
    livelog = {
        path: [await run_livelog_round(plan.log_lines, path) for _ in range(plan.worker_rounds)]
        for path in ("direct", "relay")
    }
    return [
        *queue,
        *events,
        *_transfer_figures(transfers),
        *_worker_figures(workers),
        *_livelog_figures(livelog),
    ]


def main(argv: Sequence[str]) -> int:
    plan = plan_from(argv)
    if plan.docker_samples and not docker_available():
        print("bench: no Docker engine answers: the Docker figures are skipped", file=sys.stderr)
        plan = replace(plan, docker_samples=0)
    if plan.amqp and not asyncio.run(amqp_available()):
        print("bench: no RabbitMQ answers: the AMQP figures are skipped", file=sys.stderr)
        plan = replace(plan, amqp=False)
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
        f" raw copy: shutil.copyfile + fsync on the same disk; docker: {plan.docker_samples}"
        f" trivial tasks/round against raw docker run; live log: {plan.log_lines} lines/round"
        f" and path; {plan.rounds} round(s);"
        f" took {time.perf_counter() - began:.1f} s",
    ]
    stores = "SQLite" if plan.postgres_url is None else "SQLite; queue figures also on PostgreSQL"
    print(
        render(
            f"infrax queue benchmarks (servers in their own processes, {stores})", notes, figures
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
