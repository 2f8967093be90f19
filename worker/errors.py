"""The worker's errors. A `TaskError` carries the ending it causes (results.py), so the run
maps any of them to its report in one place; foreign exceptions (docker, OS, HTTP) are
translated into these at the boundary where they are raised."""

from __future__ import annotations

from .results import Ending

__all__ = [
    "ArtifactProblem",
    "InternalError",
    "LiveListenError",
    "MalformedPayload",
    "ResourceUnavailable",
    "TaskError",
    "WorkerError",
]


class WorkerError(Exception):
    """Base of the worker's own errors."""


class LiveListenError(WorkerError):
    """The worker's own live-log server cannot listen on its address (`live_listen`)."""


class TaskError(WorkerError):
    """Ends the run with `ending`; the message goes to the task log, so it names no secret."""

    ending: Ending = Ending.internal_error


class MalformedPayload(TaskError):  # noqa: N818 (named for the resolution)
    """The payload is invalid, asks for what its scopes do not allow, or names something
    that does not exist (an image, a cache it may not use)."""

    ending = Ending.malformed_payload


class ResourceUnavailable(TaskError):  # noqa: N818 (named for the resolution)
    """Something the task needs is unavailable for now (a registry, an upload, the engine)."""

    ending = Ending.resource_unavailable


class InternalError(TaskError):
    """The worker could not do its part (a bug or a broken host)."""

    ending = Ending.internal_error


class ArtifactProblem(WorkerError):  # noqa: N818 (named for the resolution)
    """A declared artifact cannot be taken from the task: it becomes an `error` artifact
    with `reason` (reference 2.1) and the task fails unless the artifact is optional."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
