"""`python -m bench`: run the figures and print one table (bench/README.md)."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from queue_server.main import loop_factory

from .plan import MIB, Plan, plan_from
from .report import Figure, load, machine, render, render_markdown
from .sections import SECTION_RUNNERS
from .server import BenchError
from .worker import docker_available

TITLE = "infrax queue benchmarks (server in its own process, SQLite)"
BEGIN, END = "<!-- bench results: begin -->", "<!-- bench results: end -->"


async def run(plan: Plan, notes: list[str]) -> list[Figure]:
    figures: list[Figure] = []
    loads: list[str] = []
    for name in plan.sections:
        before = load()
        figures += await SECTION_RUNNERS[name](plan, notes)
        loads.append(f"{name} {before}-{load()}")
    notes.append("load average (1 min) at the start-end of each section: " + ", ".join(loads))
    return figures


def _sizes(plan: Plan) -> str:
    life = plan.lifecycle
    return (
        f"lifecycle: {life.tasks} no-op tasks/round, {life.creators} creators, {life.workers}"
        f" workers claiming up to 32; Celery / RQ: {plan.baseline_tasks} tasks/round, 2 worker"
        f" processes; claim latency: {plan.latency_samples} samples/round; depth:"
        f" {plan.depth_claims} claims/round; waiters: {plan.waiters:,}; fan: {plan.fan_edges:,}"
        f" edges; artifacts: {plan.artifact_bytes // MIB} MiB; docker: {plan.docker_samples}"
        f" tasks/round; live log: {plan.log_lines} lines/round and path; {plan.rounds} round(s)"
        f" ({plan.heavy_rounds} for depth, waiters, fan)"
    )


def write_markdown(path: Path, table: str) -> None:
    """Put the table between the result markers of the file (appended when it has none)."""
    text = path.read_text() if path.exists() else ""
    block = f"{BEGIN}\n{table}\n{END}"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = f"{text.rstrip()}\n\n{block}\n" if text else f"{block}\n"
    path.write_text(text)


def main(argv: Sequence[str]) -> int:
    plan, markdown = plan_from(argv)
    docker_sections = {"docker", "livelog"} & set(plan.sections)
    if docker_sections and plan.docker_samples and not docker_available():
        plan = replace(plan, docker_samples=0)
    began = time.perf_counter()
    notes = [f"machine: {machine()}", _sizes(plan)]
    try:
        # The load generator runs on the loop the queue runs on (uvloop when installed): what a
        # task costs the generator is CPU the server does not get on a small machine.
        with asyncio.Runner(loop_factory=loop_factory("auto")) as runner:
            figures = runner.run(run(plan, notes))
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    notes.append(f"took {time.perf_counter() - began:.0f} s; {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(render(TITLE, notes, figures))
    if markdown:
        write_markdown(Path(markdown), render_markdown(TITLE, notes, figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
