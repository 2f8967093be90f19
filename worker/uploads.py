"""Where a run's artifacts and task log go (protocol.md, "Artifacts").

Every upload uses the run's temporary credentials. The task log is always uploaded, gzipped,
as `public/logs/live_backing.log`, whatever the run's ending.

Until the queue serves the artifact endpoints, `uploads_for` keeps the artifacts on the
worker's disk instead (`<work_dir>/artifacts/<taskId>/<runId>/<name>`) and says so in the
task log.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from clients.protocol.endpoints import ENDPOINTS

from .tasklog import TaskLog

if TYPE_CHECKING:
    from .run import Run

__all__ = ["TASK_LOG_ARTIFACT", "KeptOnDisk", "Uploads", "uploads_for"]

logger = logging.getLogger("infrax.worker.uploads")

TASK_LOG_ARTIFACT = "public/logs/live_backing.log"
TASK_LOG_TYPE = "text/plain; charset=utf-8"


class Uploads(Protocol):
    async def file(self, name: str, path: Path, content_type: str, expires: str) -> None:
        """Upload a file as artifact `name`; ResourceUnavailable when the upload fails."""
        ...

    async def error(self, name: str, reason: str, message: str, expires: str) -> None:
        """Create an `error` artifact standing for a declared artifact that is missing."""
        ...

    async def task_log(self, log: TaskLog) -> bool:
        """Close the log and upload it gzipped; whether it was uploaded."""
        ...


def _gzip(source: Path, target: Path) -> None:
    with source.open("rb") as raw, gzip.open(target, "wb", compresslevel=6) as packed:
        shutil.copyfileobj(raw, packed, 1 << 20)


class KeptOnDisk:
    """Artifacts kept under the worker's work directory, for a queue without artifacts."""

    def __init__(self, run: Run) -> None:
        self.root = run.settings.work_dir / "artifacts" / run.task_id / str(run.run_id)
        self.expires = run.task.expires

    def _target(self, name: str) -> Path:
        target = (self.root / name).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise ValueError(f"artifact name {name!r} leaves the artifact directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    async def file(self, name: str, path: Path, content_type: str, expires: str) -> None:
        await asyncio.to_thread(shutil.copyfile, path, self._target(name))

    async def error(self, name: str, reason: str, message: str, expires: str) -> None:
        body = json.dumps({"storageType": "error", "reason": reason, "message": message})
        await asyncio.to_thread(self._target(name + ".error.json").write_text, body)

    async def task_log(self, log: TaskLog) -> bool:
        log.line(f"the queue has no artifact endpoints: artifacts are kept in {self.root}")
        log.close()
        await asyncio.to_thread(_gzip, log.path, self._target(TASK_LOG_ARTIFACT + ".gz"))
        return True


def uploads_for(run: Run) -> Uploads:
    if any(endpoint.name == "createArtifact" for endpoint in ENDPOINTS):
        raise NotImplementedError("artifact uploads through the queue")
    return KeptOnDisk(run)
