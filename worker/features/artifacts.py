"""Artifacts: each declared file or directory is taken from the finished task and uploaded.

A directory artifact becomes one artifact per file, named `<name>/<path inside>`, as
docker-worker did. A declared artifact that is missing (or is not what was declared) becomes
an `error` artifact with the reason (reference 2.1) and fails the task, unless the process
payload marked it optional. Expiry defaults to the task's and never exceeds it.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from clients.protocol.times import parse_time

from ..errors import ArtifactProblem
from ..payload import ArtifactRequest

if TYPE_CHECKING:
    from ..run import Run

__all__ = ["Artifacts", "artifact_expiry", "content_type_of"]


def artifact_expiry(requested: str | None, task_expires: str) -> str:
    """The artifact's expiry: as asked, but never after the task's (pure)."""
    if requested is None:
        return task_expires
    try:
        return requested if parse_time(requested) <= parse_time(task_expires) else task_expires
    except ValueError:
        return task_expires


def content_type_of(name: str, declared: str | None = None) -> str:
    if declared:
        return declared
    guessed, _ = mimetypes.guess_type(name)
    if guessed is None and name.endswith((".log", ".txt")):
        return "text/plain; charset=utf-8"
    return guessed or "application/octet-stream"


class Artifacts:
    name = "artifacts"

    def is_requested(self, run: Run) -> bool:
        return bool(run.job and run.job.artifacts)

    @asynccontextmanager
    async def enter(self, run: Run) -> AsyncIterator[None]:
        yield
        if not run.uploads_wanted or run.job is None:
            return
        for request in run.job.artifacts:
            await _take(run, request)


async def _take(run: Run, request: ArtifactRequest) -> None:
    assert run.execution is not None
    expires = artifact_expiry(request.expires, run.task.expires)
    try:
        files = await run.execution.fetch(request, run.staging)
    except ArtifactProblem as problem:
        if request.optional and problem.reason == "file-missing-on-worker":
            run.log.line(f"optional artifact {request.name}: {problem.message}; skipped")
            return
        run.log.line(f"artifact {request.name}: {problem.message}")
        await run.uploads.error(request.name, problem.reason, problem.message, expires)
        run.artifacts_missing = True
        return
    for fetched in files:
        name = f"{request.name}/{fetched.relative}" if fetched.relative else request.name
        content_type = content_type_of(name, request.content_type)
        await run.uploads.file(name, fetched.local, content_type, expires)
    run.log.line(f"artifact {request.name}: {len(files)} file(s) uploaded")
