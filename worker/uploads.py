"""Where a run's artifacts and task log go (protocol.md, "Artifacts").

Every upload uses the run's temporary credentials and the s3 path: one createArtifact, one
streamed PUT of the file to the signed URL the queue answers (retried on 5xx and resets by
the client). The task log is always uploaded as `public/logs/live_backing.log`, gzipped on
the worker and stored and served with `Content-Encoding: gzip`, whatever the run's ending.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import shutil
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from clients.client import ClientError, InputError, InputTooLarge
from clients.protocol.artifacts import ErrorArtifactRequest

from .errors import MalformedPayload, ResourceUnavailable, TaskError
from .tasklog import TaskLog

if TYPE_CHECKING:
    from .run import Run

__all__ = ["TASK_LOG_ARTIFACT", "QueueUploads", "Uploads", "uploads_for"]

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


class QueueUploads:
    """Artifacts created on the queue with the run's credentials."""

    def __init__(self, run: Run) -> None:
        self.run = run

    async def file(self, name: str, path: Path, content_type: str, expires: str) -> None:
        await self._upload(name, path, content_type, expires, None)

    async def _upload(
        self, name: str, path: Path, content_type: str, expires: str, encoding: str | None
    ) -> None:
        run = self.run
        upload = run.queue.upload_artifact(
            run.task_id,
            run.run_id,
            name,
            path,
            content_type=content_type,
            expires=expires,
            content_encoding=encoding,
        )
        await _translated(name, upload)

    async def error(self, name: str, reason: str, message: str, expires: str) -> None:
        request = ErrorArtifactRequest(expires=expires, reason=reason, message=message[:4096])  # type: ignore[arg-type]
        run = self.run
        await _translated(name, run.queue.create_artifact(run.task_id, run.run_id, name, request))

    async def task_log(self, log: TaskLog) -> bool:
        log.close()
        packed = log.path.with_name(log.path.name + ".gz")
        await asyncio.to_thread(_gzip, log.path, packed)
        try:
            await self._upload(
                TASK_LOG_ARTIFACT, packed, TASK_LOG_TYPE, self.run.task.expires, "gzip"
            )
        except TaskError as error:
            logger.error(
                "task_log_upload_failed",
                extra={
                    "task_id": self.run.task_id,
                    "run_id": self.run.run_id,
                    "reason": str(error),
                },
            )
            return False
        return True


async def _translated(name: str, call: Awaitable[object]) -> None:
    """The queue's refusals as the run endings they cause."""
    try:
        await call
    except (InputError, InputTooLarge) as error:
        # The queue refuses what the payload asked for (a bad name, content type or expiry,
        # a file over its limit): the task's fault, not a passing outage.
        raise MalformedPayload(f"artifact {name} was refused: {error.explanation}") from error
    except ClientError as error:
        raise ResourceUnavailable(f"artifact {name} could not be stored: {error}") from error


def uploads_for(run: Run) -> Uploads:
    return QueueUploads(run)
