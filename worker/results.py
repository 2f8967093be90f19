"""How a run's ending maps to what the worker reports (protocol.md, "reasonResolved").

Pure: the table follows generic-worker (reference 5.3). Exit 0 is completed; a non-zero exit is
failed unless `onExitStatus.retry` lists it (exception/intermittent-task, which the queue
retries); max run time exceeded is failed; a declared artifact that is missing fails the task;
an invalid payload is exception/malformed-payload; infrastructure trouble is
resource-unavailable or internal-error; a worker going away reports worker-shutdown (retried at
once). A canceled run is already resolved by the queue: the worker reports nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from clients.protocol.tasks import ReportableReason

__all__ = ["RESOLUTIONS", "Abort", "Ending", "Resolution", "ending_of", "unreported"]


class Ending(StrEnum):
    succeeded = "succeeded"
    exited_non_zero = "exited-non-zero"
    exited_for_retry = "exited-for-retry"
    max_run_time = "max-run-time"
    artifact_missing = "artifact-missing"
    malformed_payload = "malformed-payload"
    resource_unavailable = "resource-unavailable"
    internal_error = "internal-error"
    worker_shutdown = "worker-shutdown"
    canceled = "canceled"


class Abort(StrEnum):
    """Why a run was stopped from outside its commands; the first reason given wins."""

    max_run_time = "max-run-time"
    canceled = "canceled"
    worker_shutdown = "worker-shutdown"


@dataclass(frozen=True)
class Resolution:
    report: Literal["completed", "failed", "exception"] | None  # None: report nothing
    reason: ReportableReason | None = None

    def describe(self) -> str:
        if self.report is None:
            return "nothing reported (the queue already resolved this run)"
        return f"{self.report}/{self.reason}" if self.reason else self.report


RESOLUTIONS: dict[Ending, Resolution] = {
    Ending.succeeded: Resolution("completed"),
    Ending.exited_non_zero: Resolution("failed"),
    Ending.exited_for_retry: Resolution("exception", "intermittent-task"),
    Ending.max_run_time: Resolution("failed"),
    Ending.artifact_missing: Resolution("failed"),
    Ending.malformed_payload: Resolution("exception", "malformed-payload"),
    Ending.resource_unavailable: Resolution("exception", "resource-unavailable"),
    Ending.internal_error: Resolution("exception", "internal-error"),
    Ending.worker_shutdown: Resolution("exception", "worker-shutdown"),
    Ending.canceled: Resolution(None),
}

_ENDING_OF_ABORT = {
    Abort.max_run_time: Ending.max_run_time,
    Abort.canceled: Ending.canceled,
    Abort.worker_shutdown: Ending.worker_shutdown,
}


def ending_of(
    exit_code: int | None,
    abort: Abort | None,
    retry_codes: Collection[int],
    artifacts_missing: bool,
) -> Ending:
    """The ending of a run whose commands ran: an abort outranks the exit code, which
    outranks missing artifacts."""
    if abort is not None:
        return _ENDING_OF_ABORT[abort]
    if exit_code is None:
        return Ending.internal_error
    if exit_code != 0:
        return Ending.exited_for_retry if exit_code in retry_codes else Ending.exited_non_zero
    return Ending.artifact_missing if artifacts_missing else Ending.succeeded


def unreported(resolution: Resolution | None, taken_until: str) -> str:
    """What a run given up while the worker stops leaves to the queue (protocol.md §16.3):
    its claim lapses and the queue resolves it exception/claim-expired, which it retries."""
    if resolution is not None and resolution.report is None:
        return "given up while ending; nothing to report (the queue already resolved this run)"
    what = resolution.describe() if resolution is not None else "its resolution"
    return (
        f"{what} not reported: the queue did not answer in time; it resolves the run"
        f" exception/claim-expired when the claim lapses ({taken_until})"
    )
