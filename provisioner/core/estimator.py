"""How much capacity a pool should launch, and how much it needs (protocol.md, "Scaling").

Pure. This is Taskcluster's `estimator.simple` with the idle-capacity correction (reference
6.2): idle capacity is assumed to take pending work soon, so it is subtracted from the pending
count before the scaling ratio applies. Capacities count tasks run at once (a worker of
capacity 4 counts 4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Demand", "PoolCapacity", "Sizing", "over_provisioned", "target_capacity", "to_launch"]

# Taskcluster's over-provisioning alarm: more than this much, and more than 1.25 x maxCapacity.
ALARM_FLOOR = 25
ALARM_RATIO = 1.25


@dataclass(frozen=True)
class Sizing:
    """The pool's limits: `minCapacity`, `maxCapacity` and `scalingRatio` of its config."""

    min_capacity: int
    max_capacity: int
    scaling_ratio: float = 1.0


@dataclass(frozen=True)
class Demand:
    """The queue's counts for the pool's task queue (taskQueueCounts)."""

    pending: int
    claimed: int


@dataclass(frozen=True)
class PoolCapacity:
    """The pool's workers by state, as capacity."""

    requested: int  # launched, not registered yet
    running: int
    stopping: int

    @property
    def existing(self) -> int:
        return self.requested + self.running


def to_launch(sizing: Sizing, demand: Demand, capacity: PoolCapacity) -> int:
    """The capacity to launch now (Taskcluster's estimator, reference 6.2, steps 1 to 6)."""
    idle = max(0, capacity.existing - demand.claimed)
    adjusted_pending = max(0, demand.pending - idle)
    total_non_stopped = capacity.existing + capacity.stopping
    desired = max(
        sizing.min_capacity,
        min(adjusted_pending * sizing.scaling_ratio + total_non_stopped, sizing.max_capacity),
    )
    to_spawn = max(0.0, desired - total_non_stopped)
    # Capacity still starting is subtracted once more: a pool whose workers are slow to come up
    # launches only what those cannot cover. A fraction left by the ratio is a whole worker, as
    # Taskcluster's providers launch while any capacity is still wanted.
    return math.ceil(max(0.0, to_spawn - capacity.requested))


def target_capacity(sizing: Sizing, demand: Demand) -> int:
    """The capacity the pool needs; running capacity above it is told to terminate."""
    wanted = math.ceil((demand.pending + demand.claimed) * sizing.scaling_ratio)
    return max(sizing.min_capacity, min(wanted, sizing.max_capacity))


def over_provisioned(sizing: Sizing, capacity: PoolCapacity) -> bool:
    """Taskcluster's alarm: far more capacity exists than the pool may have."""
    existing = capacity.existing
    return existing > ALARM_FLOOR and existing > ALARM_RATIO * sizing.max_capacity
