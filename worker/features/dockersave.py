"""features.dockerSave: the finished container, committed and saved as
`public/dockerImage.tar`, so anyone can `docker load` it and inspect what the task left."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..run import Run

__all__ = ["DOCKER_SAVE_ARTIFACT", "DockerSave"]

DOCKER_SAVE_ARTIFACT = "public/dockerImage.tar"


class DockerSave:
    name = "dockerSave"

    def is_requested(self, run: Run) -> bool:
        return bool(run.job and run.job.docker_save)

    @asynccontextmanager
    async def enter(self, run: Run) -> AsyncIterator[None]:
        yield
        if not run.uploads_wanted or run.execution is None:
            return
        run.staging.mkdir(parents=True, exist_ok=True)
        tarball = run.staging / "dockerImage.tar"
        await run.execution.save_image(tarball)
        await run.uploads.file(DOCKER_SAVE_ARTIFACT, tarball, "application/x-tar", run.task.expires)
        run.log.line(
            f"saved the container as {DOCKER_SAVE_ARTIFACT} ({tarball.stat().st_size} bytes)"
        )
        tarball.unlink()
