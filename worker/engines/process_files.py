"""Artifacts of the process engine, taken from the task directory in place.

A path must stay inside the task directory once links are resolved: the worker may run as
root, and a task must not be able to publish a host file by linking to it. By the time this
runs every process of the task has been killed, so nothing changes the files under us.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ArtifactProblem
from ..payload import ArtifactRequest
from .base import FetchedFile

__all__ = ["collect_artifact"]


def collect_artifact(task_dir: Path, request: ArtifactRequest) -> list[FetchedFile]:
    root = task_dir.resolve()
    path = task_dir / request.path
    if not os.path.lexists(path):
        raise ArtifactProblem(
            "file-missing-on-worker", f"{request.path} does not exist in the task directory"
        )
    real = path.resolve()
    if not real.is_relative_to(root):
        raise ArtifactProblem(
            "invalid-resource-on-worker", f"{request.path} points outside the task directory"
        )
    if request.kind == "file":
        if not real.is_file():
            raise ArtifactProblem("invalid-resource-on-worker", f"{request.path} is not a file")
        return [FetchedFile("", real, real.stat().st_size)]
    if not real.is_dir():
        raise ArtifactProblem("invalid-resource-on-worker", f"{request.path} is not a directory")
    return _walk(root, real)


def _walk(root: Path, directory: Path) -> list[FetchedFile]:
    found = []
    for parent, _dirs, files in os.walk(directory, followlinks=False):
        for name in files:
            candidate = Path(parent) / name
            real = candidate.resolve()
            if real.is_relative_to(root) and real.is_file():
                relative = candidate.relative_to(directory).as_posix()
                found.append(FetchedFile(relative, real, real.stat().st_size))
    return sorted(found, key=lambda f: f.relative)
