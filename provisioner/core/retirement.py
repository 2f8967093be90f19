"""Which workers should go, and why (protocol.md, "Worker lifecycle").

Pure. Two kinds of retirement:
- removal, for workers that broke a lifecycle timeout: never registered within
  `registrationTimeout`, let their credentials lapse (`reregistrationTimeout`), or stopped
  talking to the queue for `queueInactivityTimeout` (a worker holding a claim is talking: it
  reclaims). Static workers are never removed this way (Taskcluster exempts them);
- termination, asked politely through `shouldWorkerTerminate`, for running capacity above the
  pool's target. Only idle workers are asked (newest first); a busy one finishes its work.
  A worker once told may have heard it and be on its way out (it stays `running` until its
  process is gone), so it keeps the decision while the surplus lasts: choosing afresh on
  every pass would tell others too, and the pool would fall below its target.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Lifecycle",
    "Removal",
    "WorkerFacts",
    "removal_reason",
    "to_terminate",
]


class Removal(StrEnum):
    registration_timeout = "registration-timeout"
    reregistration_timeout = "reregistration-timeout"
    queue_inactivity = "queue-inactivity"


@dataclass(frozen=True)
class Lifecycle:
    """The pool's `lifecycle`, in milliseconds."""

    registration_timeout_ms: int
    queue_inactivity_timeout_ms: int


@dataclass(frozen=True)
class WorkerFacts:
    """What the scanner knows of one worker that is not stopped."""

    worker_group: str
    worker_id: str
    state: str  # requested | running | stopping
    static: bool
    capacity: int
    created_ms: int
    registered_ms: int | None  # the last (re)registration
    credentials_expire_ms: int | None  # None until registered
    last_active_ms: int | None  # the queue's lastDateActive for this worker
    busy: int  # runs it holds now
    told_to_terminate: bool  # the last pass chose it to terminate


def removal_reason(worker: WorkerFacts, lifecycle: Lifecycle, now_ms: int) -> Removal | None:
    if worker.static or worker.state == "stopping":
        return None
    if worker.state == "requested":
        if now_ms - worker.created_ms > lifecycle.registration_timeout_ms:
            return Removal.registration_timeout
        return None
    if worker.credentials_expire_ms is not None and now_ms > worker.credentials_expire_ms:
        return Removal.reregistration_timeout
    if worker.busy > 0:
        return None
    seen = max(worker.registered_ms or worker.created_ms, worker.last_active_ms or 0)
    if now_ms - seen > lifecycle.queue_inactivity_timeout_ms:
        return Removal.queue_inactivity
    return None


def to_terminate(workers: list[WorkerFacts], target_capacity: int) -> list[WorkerFacts]:
    """Running workers whose capacity is above the target: first those already told (busy or
    not: they may have heard, and a worker that heard leaves), then idle ones, newest first."""
    running = [w for w in workers if w.state == "running" and not w.static]
    surplus = sum(w.capacity for w in workers if w.state == "running") - target_capacity
    told = [w for w in running if w.told_to_terminate]
    idle = [w for w in running if w.busy == 0 and not w.told_to_terminate]
    chosen = []
    for group in (told, idle):
        for worker in sorted(group, key=lambda w: w.created_ms, reverse=True):
            if worker.capacity <= surplus:
                chosen.append(worker)
                surplus -= worker.capacity
    return chosen
