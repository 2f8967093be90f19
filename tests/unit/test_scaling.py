"""The provisioner's pure decisions: the estimator, the launch split, back-off and retirement."""

from __future__ import annotations

import pytest

from provisioner.core.estimator import (
    Demand,
    PoolCapacity,
    Sizing,
    over_provisioned,
    target_capacity,
    to_launch,
)
from provisioner.core.launching import (
    BackOff,
    LaunchHealth,
    LaunchOption,
    after_failure,
    after_success,
    next_launch_ms,
    plan_launches,
)
from provisioner.core.retirement import (
    Lifecycle,
    Removal,
    WorkerFacts,
    removal_reason,
    to_terminate,
)

# (min, max, ratio), (pending, claimed), (requested, running, stopping) -> capacity to launch
ESTIMATES = [
    ("nothing to do", (0, 6, 1.0), (0, 0), (0, 0, 0), 0),
    ("40 pending bring an empty pool to its max", (0, 6, 1.0), (40, 0), (0, 0, 0), 6),
    ("a few pending bring as many", (0, 6, 1.0), (3, 0), (0, 0, 0), 3),
    ("minCapacity is kept with nothing pending", (2, 6, 1.0), (0, 0), (0, 0, 0), 2),
    ("minCapacity already there", (2, 6, 1.0), (0, 0), (0, 2, 0), 0),
    ("a full pool launches nothing", (0, 6, 1.0), (40, 6), (0, 6, 0), 0),
    ("idle capacity absorbs pending work", (0, 10, 1.0), (3, 1), (0, 4, 0), 0),
    ("only pending work beyond idle capacity counts", (0, 10, 1.0), (5, 1), (0, 4, 0), 2),
    ("the scaling ratio scales pending work", (0, 10, 0.5), (10, 0), (0, 0, 0), 5),
    ("a fraction of a worker is a whole one", (0, 10, 0.5), (1, 0), (0, 0, 0), 1),
    ("starting capacity is subtracted once more", (0, 6, 1.0), (40, 0), (2, 0, 0), 2),
    ("stopping capacity counts against the max", (0, 6, 1.0), (40, 0), (0, 0, 3), 3),
    ("more than the max exists: nothing", (0, 2, 1.0), (9, 4), (0, 4, 0), 0),
    ("minCapacity wins over a small max of demand", (4, 6, 1.0), (1, 0), (0, 1, 0), 3),
]


@pytest.mark.parametrize(
    ("sizing", "demand", "capacity", "expected"),
    [case[1:] for case in ESTIMATES],
    ids=[case[0] for case in ESTIMATES],
)
def test_estimator_launches_what_taskcluster_would(
    sizing: tuple[int, int, float],
    demand: tuple[int, int],
    capacity: tuple[int, int, int],
    expected: int,
) -> None:
    assert to_launch(Sizing(*sizing), Demand(*demand), PoolCapacity(*capacity)) == expected


@pytest.mark.parametrize(
    ("sizing", "demand", "expected"),
    [
        ((0, 6, 1.0), (0, 0), 0),
        ((2, 6, 1.0), (0, 0), 2),
        ((0, 6, 1.0), (2, 1), 3),
        ((0, 6, 1.0), (40, 3), 6),
        ((0, 6, 0.5), (3, 0), 2),
    ],
)
def test_target_capacity_is_pending_plus_claimed_within_the_limits(
    sizing: tuple[int, int, float], demand: tuple[int, int], expected: int
) -> None:
    assert target_capacity(Sizing(*sizing), Demand(*demand)) == expected


def test_over_provisioning_alarm_needs_more_than_25_and_a_quarter_over_the_max() -> None:
    assert over_provisioned(Sizing(0, 20), PoolCapacity(0, 26, 0))
    assert not over_provisioned(Sizing(0, 24), PoolCapacity(0, 26, 0))
    assert not over_provisioned(Sizing(0, 4), PoolCapacity(0, 25, 0))


def _option(name: str, weight: float = 1.0, **changes: object) -> LaunchOption:
    fields: dict[str, object] = {
        "launch_config_id": name,
        "capacity_per_instance": 1,
        "initial_weight": weight,
        "max_capacity": None,
        "current_capacity": 0,
        "starting": 0,
    }
    fields.update(changes)
    return LaunchOption(**fields)  # type: ignore[arg-type]


BACKOFF = BackOff(base_ms=1_000, max_ms=8_000)


def test_launches_are_split_by_weight() -> None:
    plan = plan_launches([_option("a", 2), _option("b", 1)], 6, 100, 0, BACKOFF)
    assert sorted(plan) == ["a", "a", "a", "a", "b", "b"]


def test_a_zero_weight_disables_a_launch_config() -> None:
    assert plan_launches([_option("a", 0), _option("b", 1)], 3, 100, 0, BACKOFF) == ["b"] * 3


def test_capacity_per_instance_and_the_limits_bound_the_plan() -> None:
    big = _option("big", capacity_per_instance=4)
    assert plan_launches([big], 5, 100, 0, BACKOFF) == ["big", "big"]
    assert plan_launches([big], 5, 6, 0, BACKOFF) == ["big"]  # a second would pass the pool max
    capped = _option("capped", max_capacity=3, current_capacity=2)
    assert plan_launches([capped, _option("other")], 4, 100, 0, BACKOFF).count("capped") == 1


def test_a_failing_launch_config_waits_out_its_back_off_then_probes_with_one_worker() -> None:
    health = after_failure(after_failure(LaunchHealth(), 10_000), 11_000)
    assert next_launch_ms(health, BACKOFF) == 13_000  # 2 failures: 2 s after the last
    failing = _option("bad", health=health)
    assert plan_launches([failing], 6, 100, 12_999, BACKOFF) == []
    assert plan_launches([failing], 6, 100, 13_000, BACKOFF) == ["bad"]
    starting = _option("bad", health=health, starting=1)
    assert plan_launches([starting], 6, 100, 20_000, BACKOFF) == []


def test_back_off_doubles_up_to_its_maximum_and_a_registration_ends_it() -> None:
    assert [BACKOFF.delay_ms(n) for n in range(6)] == [0, 1_000, 2_000, 4_000, 8_000, 8_000]
    health = LaunchHealth()
    for moment in range(10):
        health = after_failure(health, moment)
    assert health.failures == 10
    assert next_launch_ms(after_success(health), BACKOFF) == 0


def test_healthy_configs_launch_while_a_broken_one_backs_off() -> None:
    broken = _option("broken", health=LaunchHealth(3, 0))
    assert plan_launches([broken, _option("good")], 3, 100, 1, BACKOFF) == ["good"] * 3


LIFECYCLE = Lifecycle(registration_timeout_ms=60_000, queue_inactivity_timeout_ms=300_000)


def _worker(**changes: object) -> WorkerFacts:
    fields: dict[str, object] = {
        "worker_group": "g",
        "worker_id": "w",
        "state": "running",
        "static": False,
        "capacity": 1,
        "created_ms": 0,
        "registered_ms": 1_000,
        "credentials_expire_ms": 10_000_000,
        "last_active_ms": None,
        "busy": 0,
        "told_to_terminate": False,
    }
    fields.update(changes)
    return WorkerFacts(**fields)  # type: ignore[arg-type]


REMOVALS = [
    ("a starting worker within its registration timeout", {"state": "requested"}, 60_000, None),
    (
        "a worker that never registered",
        {"state": "requested", "registered_ms": None},
        60_001,
        Removal.registration_timeout,
    ),
    ("credentials that lapsed", {}, 10_000_001, Removal.reregistration_timeout),
    ("a worker quiet too long", {"last_active_ms": 100}, 301_001, Removal.queue_inactivity),
    ("a worker that claimed lately", {"last_active_ms": 200_000}, 301_001, None),
    ("a busy worker reclaims, so it is active", {"busy": 1}, 400_000, None),
    ("static workers are never removed", {"static": True}, 10_000_001, None),
    ("a stopping worker is left alone", {"state": "stopping"}, 10_000_001, None),
]


@pytest.mark.parametrize(
    ("changes", "now", "expected"),
    [case[1:] for case in REMOVALS],
    ids=[case[0] for case in REMOVALS],
)
def test_lifecycle_removals(changes: dict[str, object], now: int, expected: Removal | None) -> None:
    assert removal_reason(_worker(**changes), LIFECYCLE, now) == expected


def test_only_idle_running_capacity_above_the_target_is_told_to_terminate_newest_first() -> None:
    workers = [
        _worker(worker_id="old", created_ms=1),
        _worker(worker_id="busy", created_ms=5, busy=1),
        _worker(worker_id="new", created_ms=9),
        _worker(worker_id="mid", created_ms=4),
        _worker(worker_id="starting", state="requested", created_ms=10),
    ]
    assert [w.worker_id for w in to_terminate(workers, 2)] == ["new", "mid"]
    assert [w.worker_id for w in to_terminate(workers, 0)] == ["new", "mid", "old"]
    assert to_terminate(workers, 4) == []


def test_workers_already_told_keep_the_decision_so_the_pool_stays_at_its_target() -> None:
    # A pool of min 2 grew to 4 for 4 tasks. The two old workers finish first and are told to
    # terminate; they are still running (draining, exiting) when the two new ones finish.
    first = [
        _worker(worker_id="old1", created_ms=1),
        _worker(worker_id="old2", created_ms=2),
        _worker(worker_id="new1", created_ms=8, busy=1),
        _worker(worker_id="new2", created_ms=9, busy=1),
    ]
    told = {w.worker_id for w in to_terminate(first, 2)}
    assert told == {"old1", "old2"}
    then = [
        _worker(
            worker_id=w.worker_id, created_ms=w.created_ms, told_to_terminate=w.worker_id in told
        )
        for w in first
    ]
    # Choosing the newest idle ones afresh would send all four away, below minCapacity.
    assert {w.worker_id for w in to_terminate(then, 2)} == {"old1", "old2"}
    # Once one of them is gone, the other keeps its decision and nobody else is told.
    rest = [w for w in then if w.worker_id != "old1"]
    assert [w.worker_id for w in to_terminate(rest, 2)] == ["old2"]


def test_a_told_worker_that_claimed_before_hearing_it_still_counts_as_leaving() -> None:
    workers = [
        _worker(worker_id="told", created_ms=1, busy=1, told_to_terminate=True),
        _worker(worker_id="idle", created_ms=9),
    ]
    assert [w.worker_id for w in to_terminate(workers, 1)] == ["told"]


def test_told_workers_are_kept_when_the_surplus_shrinks() -> None:
    workers = [
        _worker(worker_id="a", created_ms=1, told_to_terminate=True),
        _worker(worker_id="b", created_ms=2, told_to_terminate=True),
        _worker(worker_id="c", created_ms=3),
    ]
    assert [w.worker_id for w in to_terminate(workers, 2)] == ["b"]  # pending work came back
    assert to_terminate(workers, 3) == []


def test_a_worker_larger_than_the_surplus_is_kept() -> None:
    assert to_terminate([_worker(capacity=4), _worker(worker_id="x", capacity=4)], 6) == []
