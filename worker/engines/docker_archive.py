"""Artifacts out of a stopped container: the Engine API's archive of a path, unpacked safely.

Only regular files are taken. Member names are checked to stay inside the staging directory,
and links are never followed on the host, so a task cannot make the worker read host files.
"""

from __future__ import annotations

import posixpath
import tarfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker.errors
from docker.models.containers import Container

from ..errors import ArtifactProblem, MalformedPayload
from ..payload import ArtifactRequest
from .base import FetchedFile

if TYPE_CHECKING:
    from .docker import DockerExecution

__all__ = ["extract_artifact"]

_DIRECTORY = 1 << 31  # Go's os.ModeDir, as the archive's stat header carries it
_SYMLINK = 1 << 27


async def extract_artifact(
    execution: DockerExecution, request: ArtifactRequest, staging: Path
) -> list[FetchedFile]:
    """The regular files of `request.path` in the container, copied under `staging`."""
    target = staging / uuid.uuid4().hex
    target.mkdir(parents=True)
    archive = target / "archive.tar"
    try:
        stat = await execution.engine.call(
            "copying an artifact", _archive, execution.container, request.path, archive
        )
    except MalformedPayload as error:
        if isinstance(error.__cause__, docker.errors.NotFound):
            raise ArtifactProblem(
                "file-missing-on-worker", f"{request.path} does not exist in the container"
            ) from None
        raise
    try:
        return await execution.engine.call(
            "unpacking an artifact", _unpack, archive, stat, request, target / "files"
        )
    finally:
        archive.unlink(missing_ok=True)


def _archive(container: Container, path: str, into: Path) -> dict[str, Any]:
    chunks, stat = container.get_archive(path)
    with into.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return dict(stat or {})


def _unpack(
    archive: Path, stat: dict[str, Any], request: ArtifactRequest, into: Path
) -> list[FetchedFile]:
    mode = int(stat.get("mode", 0))
    is_directory = bool(mode & _DIRECTORY)
    if mode & _SYMLINK:
        raise ArtifactProblem(
            "invalid-resource-on-worker", f"{request.path} is a symbolic link, not a {request.kind}"
        )
    if is_directory != (request.kind == "directory"):
        actual = "a directory" if is_directory else "not a directory"
        raise ArtifactProblem("invalid-resource-on-worker", f"{request.path} is {actual}")
    fetched = []
    with tarfile.open(archive) as tar:
        for member in tar:
            relative = _relative(member.name)
            if not member.isfile() or relative is None:
                continue
            if request.kind == "file" and relative:
                continue
            local = into / (relative or "file")
            local.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            with source, local.open("wb") as out:
                while block := source.read(1 << 20):
                    out.write(block)
            fetched.append(FetchedFile(relative, local, member.size))
    if request.kind == "file" and not fetched:
        raise ArtifactProblem("invalid-resource-on-worker", f"{request.path} is not a regular file")
    return sorted(fetched, key=lambda f: f.relative)


def _relative(name: str) -> str | None:
    """The member's path below the archive's root entry ("" for the root itself), or None
    when it would leave it."""
    normal = posixpath.normpath(name)
    if posixpath.isabs(normal) or normal == ".." or normal.startswith("../"):
        return None
    _, _, below = normal.partition("/")
    return below
