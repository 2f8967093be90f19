"""The run state machine applied to one task: pure, no loop, no database."""

from __future__ import annotations

import msgspec
import pytest

from clients.protocol.errors import ApiError
from clients.protocol.events import Exchange
from clients.protocol.states import (
    TRANSITIONS,
    Priority,
    ReasonCreated,
    ReasonResolved,
    RunState,
    TaskState,
    priority_rank,
    transition_allowed,
)
from clients.protocol.tasks import CreateTaskRequest
from queue_server.core import lifecycle
from queue_server.core.lifecycle import TaskRecord
from queue_server.core.taskdef import normalize_task

NOW = 1_700_000_000_000
HOUR = 3_600_000


def record(retries: int = 2, routes: tuple[str, ...] = ()) -> TaskRecord:
    request = msgspec.json.decode(
        msgspec.json.encode(
            {
                "taskQueueId": "p/w",
                "created": "2023-11-14T22:13:20.000Z",
                "deadline": "2023-11-14T23:13:20.000Z",
                "payload": {},
                "retries": retries,
                "routes": list(routes),
                "metadata": {"name": "n", "description": "d", "owner": "o", "source": "https://x"},
            }
        ),
        type=CreateTaskRequest,
    )
    task, times = normalize_task(
        "fN1gGK8HRbWZBZJPOY2V4Q", request, now_ms=NOW, max_deadline_ms=5 * 24 * HOUR
    )
    return TaskRecord("fN1gGK8HRbWZBZJPOY2V4Q", task, [], task.retries, times.deadline)


def claimed(retries: int = 2) -> TaskRecord:
    r = record(retries)
    lifecycle.schedule(r, NOW)
    lifecycle.claim(r, "g", "w", NOW, NOW + 1000)
    return r


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (RunState.pending, RunState.running, True),
        (RunState.pending, RunState.exception, True),
        (RunState.pending, RunState.completed, False),
        (RunState.running, RunState.completed, True),
        (RunState.running, RunState.failed, True),
        (RunState.running, RunState.pending, False),
        (RunState.completed, RunState.exception, False),
        (RunState.exception, RunState.pending, False),
    ],
)
def test_transitions_table(current: RunState, target: RunState, allowed: bool) -> None:
    assert transition_allowed(current, target) is allowed


def test_resolved_states_are_final() -> None:
    assert all(
        not TRANSITIONS[s] for s in (RunState.completed, RunState.failed, RunState.exception)
    )


def test_priority_ranks_run_from_seven_to_one() -> None:
    assert [priority_rank(p) for p in Priority] == [7, 6, 5, 4, 3, 2, 1]


def test_schedule_adds_one_pending_run_and_publishes_task_pending() -> None:
    r = record()
    messages = lifecycle.schedule(r, NOW)
    assert r.state is TaskState.pending
    assert [m.exchange for m in messages] == [Exchange.task_pending]
    assert lifecycle.schedule(r, NOW) == []


def test_claim_sets_worker_and_taken_until() -> None:
    r = claimed()
    run = r.runs[0]
    assert (run.state, run.worker_group, run.worker_id) == (RunState.running, "g", "w")
    assert run.taken_until == "2023-11-14T22:13:21.000Z"


def test_claiming_a_non_pending_task_is_a_conflict() -> None:
    r = claimed()
    with pytest.raises(ApiError) as info:
        lifecycle.claim(r, "g", "w", NOW, NOW + 1000)
    assert info.value.status == 409


@pytest.mark.parametrize(
    ("reason", "retry"),
    [
        (ReasonResolved.worker_shutdown, ReasonCreated.retry),
        (ReasonResolved.intermittent_task, ReasonCreated.task_retry),
        (ReasonResolved.claim_expired, ReasonCreated.retry),
        (ReasonResolved.malformed_payload, None),
        (ReasonResolved.internal_error, None),
        (ReasonResolved.resource_unavailable, None),
    ],
)
def test_exception_retries_only_for_retry_reasons(
    reason: ReasonResolved, retry: ReasonCreated | None
) -> None:
    r = claimed()
    messages = lifecycle.resolve(r, 0, RunState.exception, reason, NOW)
    if retry is None:
        assert (len(r.runs), r.retries_left) == (1, 2)
        assert [m.exchange for m in messages] == [Exchange.task_exception]
    else:
        assert (r.runs[1].reason_created, r.retries_left) == (retry, 1)
        assert [m.exchange for m in messages] == [Exchange.task_exception, Exchange.task_pending]


def test_retries_stop_when_none_are_left() -> None:
    r = claimed(retries=0)
    lifecycle.resolve(r, 0, RunState.exception, ReasonResolved.worker_shutdown, NOW)
    assert r.state is TaskState.exception


def test_repeating_a_resolution_republishes_without_change() -> None:
    r = claimed()
    lifecycle.resolve(r, 0, RunState.completed, ReasonResolved.completed, NOW)
    again = lifecycle.resolve(r, 0, RunState.completed, ReasonResolved.completed, NOW + 5)
    assert [m.exchange for m in again] == [Exchange.task_completed]
    assert r.runs[0].resolved == "2023-11-14T22:13:20.000Z"
    with pytest.raises(ApiError):
        lifecycle.resolve(r, 0, RunState.failed, ReasonResolved.failed, NOW)


def test_rerun_resets_retries_and_respects_the_run_limit() -> None:
    r = claimed(retries=3)
    lifecycle.resolve(r, 0, RunState.failed, ReasonResolved.failed, NOW)
    lifecycle.rerun(r, NOW)
    assert (r.runs[-1].reason_created, r.retries_left) == (ReasonCreated.rerun, 3)
    while len(r.runs) < lifecycle.MAX_RUNS:
        lifecycle.claim(r, "g", "w", NOW, NOW + 1)
        lifecycle.resolve(r, len(r.runs) - 1, RunState.failed, ReasonResolved.failed, NOW)
        if len(r.runs) < lifecycle.MAX_RUNS:
            lifecycle.rerun(r, NOW)
    assert r.retries_left == 0
    lifecycle.claim(r, "g", "w", NOW, NOW + 1)
    lifecycle.resolve(r, lifecycle.MAX_RUNS - 1, RunState.failed, ReasonResolved.failed, NOW)
    with pytest.raises(ApiError) as info:
        lifecycle.rerun(r, NOW)
    assert info.value.status == 409


def test_cancel_of_unscheduled_task_adds_an_exception_run() -> None:
    r = record()
    messages = lifecycle.cancel(r, NOW)
    run = r.runs[0]
    assert (run.reason_created, run.reason_resolved) == (
        ReasonCreated.exception,
        ReasonResolved.canceled,
    )
    assert [m.exchange for m in messages] == [Exchange.task_exception]


def test_everything_after_the_deadline_is_a_conflict() -> None:
    r = claimed()
    late = r.deadline_ms
    for change in (
        lambda: lifecycle.reclaim(r, 0, late, late + 1),
        lambda: lifecycle.cancel(r, late),
        lambda: lifecycle.rerun(r, late),
        lambda: lifecycle.schedule(r, late),
        lambda: lifecycle.change_priority(r, Priority.high, late),
    ):
        with pytest.raises(ApiError) as info:
            change()
        assert info.value.status == 409
    lifecycle.deadline_exceeded(r, late)
    assert r.runs[0].reason_resolved is ReasonResolved.deadline_exceeded


def test_unclaim_returns_the_run_to_pending_without_a_worker() -> None:
    r = claimed()
    messages = lifecycle.unclaim(r, 0)
    run = r.runs[0]
    assert run.state is RunState.pending
    assert run.worker_id is msgspec.UNSET and run.taken_until is msgspec.UNSET
    assert [m.exchange for m in messages] == [Exchange.task_pending]


def test_messages_carry_routes_as_cc() -> None:
    r = record(routes=("index.x", "notify.y"))
    (message,) = lifecycle.schedule(r, NOW)
    assert message.cc == ["route.index.x", "route.notify.y"]
    assert message.routing_key == f"primary.{r.task_id}.0._._.p.w.-.{r.task_id}._"


def test_reports_after_the_deadline_are_conflicts_but_repeats_republish() -> None:
    r = claimed()
    with pytest.raises(ApiError) as info:
        lifecycle.resolve(r, 0, RunState.completed, ReasonResolved.completed, r.deadline_ms)
    assert info.value.status == 409
    done = claimed()
    lifecycle.resolve(done, 0, RunState.completed, ReasonResolved.completed, NOW)
    assert lifecycle.resolve(
        done, 0, RunState.completed, ReasonResolved.completed, done.deadline_ms
    )


def test_a_claim_expiring_after_the_deadline_adds_no_retry() -> None:
    r = claimed()
    lifecycle.resolve(r, 0, RunState.exception, ReasonResolved.claim_expired, r.deadline_ms + 1)
    assert (len(r.runs), r.state) == (1, TaskState.exception)


def test_priority_of_a_resolved_task_cannot_change() -> None:
    r = claimed()
    lifecycle.resolve(r, 0, RunState.failed, ReasonResolved.failed, NOW)
    with pytest.raises(ApiError) as info:
        lifecycle.change_priority(r, Priority.high, NOW)
    assert info.value.status == 409
