"""Each section of the suite: its rounds, and the figures of the table they come to."""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable, Sequence

from .artifacts import TransferRound, run_transfer_round
from .baselines import missing_baselines, run_baseline_round
from .depth import DepthRound, run_depth_round
from .events import amqp_available, event_figures
from .fanout import FanRound, run_chain_round, run_fan_in_round, run_fan_out_round
from .latency import run_latency_round
from .lifecycle import LifecycleRound, run_lifecycle_round
from .livelog import LivelogPath, run_livelog_round
from .plan import Plan
from .report import Figure, compare, percentile, summarize
from .server import BenchError
from .stores import targets
from .templates import Templates
from .waiters import run_waiters_round
from .worker import run_worker_round

__all__ = ["SECTION_RUNNERS"]

MIB = 1024 * 1024
LIFECYCLE = "lifecycle throughput"
Notes = list[str]


def _ratios(ours: Sequence[float], theirs: Sequence[float]) -> list[float]:
    return [a / b for a, b in zip(ours, theirs, strict=True)]


async def lifecycle(plan: Plan, notes: Notes) -> list[Figure]:
    missing = await missing_baselines() if plan.baseline_tasks else None
    if missing and not plan.smoke:
        raise BenchError(f"the baselines cannot run: {missing} (or run with --no-baselines)")
    if missing:
        notes.append(f"Celery and RQ baselines skipped: {missing}")
    baselines = bool(plan.baseline_tasks) and not missing
    found: dict[str, list[LifecycleRound]] = {t.label: [] for t in targets(plan.postgres_url)}
    celery: list[float] = []
    rq: list[float] = []
    for _ in range(plan.rounds):
        for target in targets(plan.postgres_url):
            found[target.label].append(await run_lifecycle_round(plan.lifecycle, target.deploy))
        if baselines:
            celery.append(
                (await run_baseline_round("Celery+Redis", plan.baseline_tasks)).tasks_per_s
            )
            rq.append((await run_baseline_round("RQ", plan.baseline_tasks)).tasks_per_s)
    figures: list[Figure] = []
    for label, rounds in found.items():
        ours = [r.tasks_per_s for r in rounds]
        figure = summarize(LIFECYCLE + label, "tasks/s", ours, target=">= 2x Celery")
        if baselines:
            figure = compare(figure, "Celery+Redis", celery, _ratios(ours, celery))
        figures.append(figure)
        if baselines and not label:
            versus_rq = summarize(LIFECYCLE + " (vs RQ)", "tasks/s", ours)
            figures.append(compare(versus_rq, "RQ", rq, _ratios(ours, rq)))
        figures += _cpu_figures(rounds, label)
    return figures


def _cpu_figures(rounds: Sequence[LifecycleRound], label: str) -> list[Figure]:
    measured = [(r, r.server_cpu_s) for r in rounds if r.server_cpu_s is not None]
    if not measured:
        return []
    return [
        summarize(f"  server CPU per task{label}", "ms", [1000 * cpu / r.tasks for r, cpu in measured]),
        summarize(
            f"  server CPU during lifecycle{label}", "% of a core",
            [100 * cpu / r.wall_s for r, cpu in measured],
        ),
        summarize(
            f"  client CPU during lifecycle{label}", "% of a core",
            [100 * r.client_cpu_s / r.wall_s for r in rounds],
        ),
    ]  # fmt: skip


async def latency(plan: Plan, notes: Notes) -> list[Figure]:
    figures: list[Figure] = []
    for target in targets(plan.postgres_url):
        rounds = [
            await run_latency_round(plan.latency_samples, target.deploy) for _ in range(plan.rounds)
        ]
        p50 = [percentile(r.samples_ms, 50) for r in rounds]
        p99 = [percentile(r.samples_ms, 99) for r in rounds]
        figures.append(summarize("claim latency p50" + target.label, "ms", p50, "<= 5 ms"))
        figures.append(summarize("claim latency p99" + target.label, "ms", p99, "<= 20 ms"))
    return figures


def _depth_name(depth: int, queues: int = 1) -> str:
    spread = f" over {queues:,} queues" if queues > 1 else ""
    return f"claim throughput, {depth:,} pending{spread}"


async def depth(plan: Plan, notes: Notes) -> list[Figure]:
    templates = Templates()
    middle = plan.depths[len(plan.depths) // 2]
    cases = [(d, 1) for d in plan.depths] + [(middle, plan.task_queues)]
    found: dict[tuple[int, int], list[DepthRound]] = {case: [] for case in cases}
    try:
        for _ in range(plan.heavy_rounds):
            for d, queues in cases:
                found[(d, queues)].append(
                    await run_depth_round(
                        templates, d, queues, plan.depth_claims, plan.lifecycle.workers
                    )
                )
    finally:
        templates.close()
    rate = {case: [r.claims_per_s for r in rounds] for case, rounds in found.items()}
    smallest = (plan.depths[0], 1)
    figures = [summarize(_depth_name(*smallest), "claims/s", rate[smallest])]
    for d in plan.depths[1:]:
        figure = summarize(_depth_name(d), "claims/s", rate[(d, 1)])
        figures.append(
            compare(figure, f"{plan.depths[0]:,} pending", rate[smallest],
                    _ratios(rate[(d, 1)], rate[smallest]), ">= 0.75x")
        )  # fmt: skip
    spread = (middle, plan.task_queues)
    figure = summarize(_depth_name(*spread), "claims/s", rate[spread])
    figures.append(
        compare(figure, "one queue", rate[(middle, 1)], _ratios(rate[spread], rate[(middle, 1)]))
    )
    cpu = [1000 * r.server_cpu_s / r.claims for r in found[smallest] if r.server_cpu_s]
    if cpu:
        figures.append(summarize("  server CPU per claimWork (1 task)", "ms", cpu))
    return figures


async def waiters(plan: Plan, notes: Notes) -> list[Figure]:
    rounds = [
        await run_waiters_round(plan.waiters, plan.waiter_samples) for _ in range(plan.heavy_rounds)
    ]
    label = f"{plan.waiters:,} waiting"
    figures = [
        summarize(f"claim latency p50, {label}", "ms", [percentile(r.samples_ms, 50) for r in rounds]),
        summarize(
            f"claim latency p99, {label}", "ms", [percentile(r.samples_ms, 99) for r in rounds], "<= 50 ms"
        ),
    ]  # fmt: skip
    rss = [r.rss_waiting / 1e6 for r in rounds if r.rss_waiting is not None]
    idle = [r.rss_idle / 1e6 for r in rounds if r.rss_idle is not None]
    if rss and idle:
        figure = summarize(f"server RSS, {label}", "MB", rss, "<= 500 MB")
        figures.append(compare(figure, "idle", idle, _ratios(rss, idle)))
    return figures


async def fanout(plan: Plan, notes: Notes) -> list[Figure]:
    edges, tenth = plan.fan_edges, plan.fan_edges // 10
    templates = Templates()
    chain: list[FanRound] = []
    out: list[FanRound] = []
    out_tenth: list[FanRound] = []
    fan_in: list[FanRound] = []
    try:
        for _ in range(plan.heavy_rounds):
            chain.append(await run_chain_round())
            out.append(await run_fan_out_round(templates, edges))
            out_tenth.append(await run_fan_out_round(templates, tenth))
            fan_in.append(await run_fan_in_round(templates, edges, plan.lifecycle.workers))
    finally:
        templates.close()
    link = [r.ms_per_edge for r in chain]
    per_edge_out = [r.ms_per_edge for r in out]
    per_edge_in = [r.ms_per_edge for r in fan_in]
    return [
        summarize("chain of 10: per link (claim, report, next pending)", "ms", link),
        summarize(f"fan-out {edges:,}: report that schedules them", "ms", [1000 * r.seconds for r in out]),
        compare(
            summarize(f"  fan-out {edges:,} vs {tenth:,} dependents", "ms", [1000 * r.seconds for r in out]),
            f"{tenth:,}", [1000 * r.seconds for r in out_tenth],
            _ratios([r.seconds for r in out], [r.seconds for r in out_tenth]), "~10x (linear)",
        ),
        compare(
            summarize("  fan-out per dependent scheduled", "ms", per_edge_out),
            "chain link", link, _ratios(per_edge_out, link), "<= 1x",
        ),
        summarize(f"fan-in: createTask with {edges:,} dependencies", "ms", [1000 * r.create_s for r in fan_in]),
        compare(
            summarize(f"fan-in: per dependency resolved ({plan.lifecycle.workers} workers)", "ms", per_edge_in),
            "chain link", link, _ratios(per_edge_in, link), "<= 1x",
        ),
    ]  # fmt: skip


async def artifacts(plan: Plan, notes: Notes) -> list[Figure]:
    rounds = [await run_transfer_round(plan.artifact_bytes) for _ in range(plan.rounds)]
    return _transfer_figures(rounds)


def _transfer_figures(rounds: Sequence[TransferRound]) -> list[Figure]:
    def rate(pick: Callable[[TransferRound], float]) -> list[float]:
        return [r.mb_per_s(pick(r)) for r in rounds]

    copy = rate(lambda r: r.copy_s)
    figures = [
        compare(
            summarize("artifact upload", "MB/s", rate(lambda r: r.upload_s)),
            "raw copy", copy, [r.copy_s / r.upload_s for r in rounds], ">= 0.5x",
        ),
        compare(
            summarize("artifact download", "MB/s", rate(lambda r: r.download_s)),
            "raw copy", copy, [r.copy_s / r.download_s for r in rounds], ">= 0.5x",
        ),
        summarize("  raw file copy to disk (fsync'ed)", "MB/s", copy),
        summarize("  raw copy to the page cache", "MB/s", rate(lambda r: r.cached_copy_s)),
    ]  # fmt: skip
    growth = [r.upload_rss_growth / MIB for r in rounds if r.upload_rss_growth is not None]
    if growth:
        figures.append(summarize("  server RSS growth during upload", "MiB", growth))
    return figures


async def docker(plan: Plan, notes: Notes) -> list[Figure]:
    if not plan.docker_samples:
        notes.append("Docker figures skipped: no Docker engine answers (or --no-docker)")
        return []
    rounds = [await run_worker_round(plan.docker_samples) for _ in range(plan.rounds)]
    task = [1000 * statistics.median(r.task_s) for r in rounds]
    raw = [1000 * statistics.median(r.raw_s) for r in rounds]
    figure = summarize("docker task submit-to-resolved", "ms", task)
    return [compare(figure, "docker run --rm", raw, [r.ratio for r in rounds], "<= 1.3x")]


async def events(plan: Plan, notes: Notes) -> list[Figure]:
    amqp = plan.amqp and await amqp_available()
    if plan.amqp and not amqp:
        notes.append("AMQP outbox figures skipped: no RabbitMQ answers")
    return await event_figures(plan.rounds, plan.lifecycle, plan.latency_samples, amqp)


async def livelog(plan: Plan, notes: Notes) -> list[Figure]:
    if not plan.docker_samples:
        notes.append("live-log figures skipped: no Docker engine answers (or --no-docker)")
        return []
    figures = []
    paths: dict[LivelogPath, str] = {"direct": "direct", "relay": "relay"}
    if plan.postgres_url is not None:
        paths["replicas"] = "relay across replicas"
    for path, label in paths.items():
        rounds = [
            await run_livelog_round(plan.log_lines, path, plan.postgres_url)
            for _ in range(plan.rounds)
        ]
        for q, target in ((50, ""), (99, "<= 50 ms")):
            name = f"live log latency p{q} ({label})"
            figures.append(
                summarize(name, "ms", [percentile(r.samples_ms, q) for r in rounds], target)
            )
    return figures


Section = Callable[[Plan, Notes], Awaitable[list[Figure]]]
SECTION_RUNNERS: dict[str, Section] = {
    "lifecycle": lifecycle,
    "latency": latency,
    "depth": depth,
    "waiters": waiters,
    "fanout": fanout,
    "events": events,
    "artifacts": artifacts,
    "docker": docker,
    "livelog": livelog,
}
