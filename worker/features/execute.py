"""The engine's execution of the job, as a feature: the features entered after it can use
`run.execution` (kill it, sample it, fetch its files) until it is removed on leaving."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ..engines.base import Launch

if TYPE_CHECKING:
    from ..run import Run

__all__ = ["Execute", "launch_of"]


def launch_of(run: Run) -> Launch:
    """The engine's instructions for this run: the job plus the standard variables."""
    assert run.job is not None
    standard = {
        "TASK_ID": run.task_id,
        "RUN_ID": str(run.run_id),
        "TASK_GROUP_ID": run.task.task_group_id,
        "TASKCLUSTER_ROOT_URL": run.settings.root_url,
    }
    settings = run.settings
    labels = {
        "infrax.task-id": run.task_id,
        "infrax.run-id": str(run.run_id),
        "infrax.task-queue-id": settings.task_queue_id,
    }
    return Launch(
        name=run.name,
        job=run.job,
        env={**run.job.env, **standard},
        labels=labels,
        volumes=dict(run.volumes),
        limits=run.context.limits,
        hold_binary=settings.hold_binary if run.job.interactive else None,
    )


class Execute:
    name = "execute"

    def is_requested(self, run: Run) -> bool:
        return True

    @asynccontextmanager
    async def enter(self, run: Run) -> AsyncIterator[None]:
        launch = launch_of(run)
        await run.until_aborted(run.engine.prepare(launch, run.log))
        async with run.engine.execute(launch, run.log) as execution:
            run.execution = execution
            yield
