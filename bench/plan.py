"""What one run of `python -m bench` measures, and at which sizes (bench/README.md)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

from .lifecycle import LifecycleSizes
from .postgres import DEFAULT_URL

__all__ = ["SECTIONS", "Plan", "plan_from"]

MIB = 1024 * 1024
SECTIONS = (
    "lifecycle",
    "latency",
    "depth",
    "waiters",
    "fanout",
    "events",
    "artifacts",
    "docker",
    "livelog",
)


@dataclass(frozen=True)
class Plan:
    rounds: int
    lifecycle: LifecycleSizes
    baseline_tasks: int  # tasks per Celery / RQ round; 0: no baselines
    latency_samples: int
    depths: tuple[int, ...]  # pending tasks left in the queue while claiming
    depth_claims: int
    task_queues: int  # the spread-out depth figure: the middle depth over this many queues
    waiters: int
    waiter_samples: int
    fan_edges: int
    artifact_bytes: int
    docker_samples: int  # 0: no Docker figures (nor live-log ones)
    log_lines: int  # live-log latency samples per round and path
    amqp: bool  # the AMQP outbox figures (skipped when no RabbitMQ answers)
    sections: tuple[str, ...]
    smoke: bool
    postgres_url: str | None = None  # lifecycle and latency also on PostgreSQL (stores.py)

    @property
    def heavy_rounds(self) -> int:
        """Rounds of the figures that take minutes each at full size (depth, waiters, fan)."""
        return min(self.rounds, 3)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    add = parser.add_argument
    add("--smoke", action="store_true", help="tiny sizes, 1 round (for CI)")
    add("--rounds", type=int, help="rounds of each figure [5; smoke: 1]")
    add("--tasks", type=int, help="tasks per lifecycle round [2000; smoke: 64]")
    add("--baseline-tasks", type=int, help="tasks per Celery / RQ round [1000; smoke: 20]")
    add("--no-baselines", action="store_true", help="skip Celery and RQ")
    add("--workers", type=int, default=8, help="worker coroutines [8]")
    add("--creators", type=int, default=8, help="creator coroutines [8]")
    add("--samples", type=int, help="claim latency samples per round [200; 10]")
    add("--waiters", type=int, help="waiting claimWork connections [10000; smoke: 50]")
    add("--fan-edges", type=int, help="dependents / dependencies of one task [10000; 100]")
    add("--artifact-mib", type=int, help="artifact size for the transfer figures [100; 4]")
    add("--docker-samples", type=int, help="Docker task samples per round [20; smoke: 3]")
    add("--no-docker", action="store_true", help="skip the Docker and live-log figures")
    add("--log-lines", type=int, help="live-log latency samples per round and path [500; 40]")
    add("--no-amqp", action="store_true", help="skip the AMQP outbox figures")
    add("--only", help=f"comma-separated sections to run [all: {','.join(SECTIONS)}]")
    add("--markdown", metavar="PATH", help="also write the table into this Markdown file")
    add(
        "--postgres",
        nargs="?",
        const=DEFAULT_URL,
        metavar="URL",
        help="lifecycle and latency also on PostgreSQL (a schema of its own per round), with 1"
        f" replica and with 3 behind nginx [{DEFAULT_URL}]",
    )
    return parser


def _sections(only: str | None) -> tuple[str, ...]:
    if only is None:
        return SECTIONS
    chosen = tuple(s.strip() for s in only.split(",") if s.strip())
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        _parser().error(f"unknown sections {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return chosen


def plan_from(argv: Sequence[str]) -> tuple[Plan, str | None]:
    """The plan, and the Markdown file to write the results into (or None)."""
    args = _parser().parse_args(list(argv))
    smoke = args.smoke

    def size(given: int | None, full: int, tiny: int) -> int:
        return given if given is not None else (tiny if smoke else full)

    rounds = size(args.rounds, 5, 1)
    tasks = size(args.tasks, 2000, 64)
    baseline_tasks = 0 if args.no_baselines else size(args.baseline_tasks, 1000, 20)
    samples = size(args.samples, 200, 10)
    waiters = size(args.waiters, 10_000, 50)
    fan_edges = size(args.fan_edges, 10_000, 100)
    artifact_mib = size(args.artifact_mib, 100, 4)
    sizes = (rounds, tasks, samples, waiters, fan_edges, artifact_mib, args.workers, args.creators)
    if min(sizes) < 1 or fan_edges < 10:
        _parser().error("every size must be at least 1 (fan-edges at least 10)")
    lifecycle = LifecycleSizes(tasks, args.workers, args.creators, 0 if smoke else 64)
    docker_samples = 0 if args.no_docker else size(args.docker_samples, 20, 3)
    log_lines = size(args.log_lines, 500, 40)
    plan = Plan(
        rounds=rounds,
        lifecycle=lifecycle,
        baseline_tasks=baseline_tasks,
        latency_samples=samples,
        depths=(10, 100, 1000) if smoke else (100, 10_000, 100_000),
        depth_claims=50 if smoke else 2000,
        task_queues=10 if smoke else 1000,
        waiters=waiters,
        waiter_samples=5 if smoke else 200,
        fan_edges=fan_edges,
        artifact_bytes=artifact_mib * MIB,
        docker_samples=docker_samples,
        log_lines=log_lines,
        amqp=not args.no_amqp,
        sections=_sections(args.only),
        smoke=smoke,
        postgres_url=args.postgres,
    )
    return plan, args.markdown
