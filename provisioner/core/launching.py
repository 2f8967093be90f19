"""Which workers to start: launch configs, their weights, and the back-off after failed starts.

Pure (protocol.md, "Scaling", "Launch back-off"). The capacity the estimator asks for is split
among the pool's launch configs by `initialWeight` (0 disables a config), never beyond a
config's own `maxCapacity` nor the pool's. A launch config whose workers fail at start (exit or
vanish before they register, or cannot be started at all) backs off: after `n` failures in a
row it launches nothing for `base * 2^(n-1)` (at most `max`), and then only one probe worker at
a time, until a worker of it registers. So a broken image or command costs one start per
back-off period, never a storm.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = [
    "BackOff",
    "LaunchHealth",
    "LaunchOption",
    "after_failure",
    "after_success",
    "next_launch_ms",
    "plan_launches",
]


@dataclass(frozen=True)
class BackOff:
    base_ms: int = 5_000
    max_ms: int = 600_000

    def delay_ms(self, failures: int) -> int:
        if failures <= 0:
            return 0
        return min(self.max_ms, self.base_ms << min(failures - 1, 30))


@dataclass(frozen=True)
class LaunchHealth:
    """Failed starts in a row of one launch config, and when the last one was seen."""

    failures: int = 0
    last_failure_ms: int = 0


def after_failure(health: LaunchHealth, now_ms: int) -> LaunchHealth:
    return LaunchHealth(health.failures + 1, now_ms)


def after_success(health: LaunchHealth) -> LaunchHealth:
    return replace(health, failures=0)


def next_launch_ms(health: LaunchHealth, backoff: BackOff) -> int:
    """When the config may launch again (0: now)."""
    if health.failures == 0:
        return 0
    return health.last_failure_ms + backoff.delay_ms(health.failures)


@dataclass(frozen=True)
class LaunchOption:
    """One launch config of the pool, with what it has now."""

    launch_config_id: str
    capacity_per_instance: int
    initial_weight: float
    max_capacity: int | None  # the config's own limit; None: only the pool's
    current_capacity: int  # capacity of its workers not stopped
    starting: int  # its workers launched and not registered yet
    health: LaunchHealth = LaunchHealth()


def _allowance(option: LaunchOption, now_ms: int, backoff: BackOff) -> int | None:
    """How many workers the config may start now; None for no limit but capacity."""
    if option.initial_weight <= 0:
        return 0
    if option.health.failures == 0:
        return None
    if now_ms < next_launch_ms(option.health, backoff) or option.starting > 0:
        return 0
    return 1  # a probe: one worker, until one registers


def plan_launches(
    options: list[LaunchOption], wanted: int, pool_room: int, now_ms: int, backoff: BackOff
) -> list[str]:
    """The launch config id of each worker to start, for `wanted` capacity.

    `pool_room` is the capacity the pool may still add (maxCapacity minus what it has). The
    split is a smooth weighted round-robin, so 3 workers over weights 2:1 go 2 and 1.
    """
    left = {o.launch_config_id: _allowance(o, now_ms, backoff) for o in options}
    used = {o.launch_config_id: o.current_capacity for o in options}
    credit = {o.launch_config_id: 0.0 for o in options}
    plan: list[str] = []
    while wanted > 0:
        eligible = [o for o in options if _fits(o, left, used, pool_room)]
        if not eligible:
            break
        total = sum(o.initial_weight for o in eligible)
        for option in eligible:
            credit[option.launch_config_id] += option.initial_weight
        chosen = max(eligible, key=lambda o: credit[o.launch_config_id])
        key = chosen.launch_config_id
        credit[key] -= total
        plan.append(key)
        used[key] += chosen.capacity_per_instance
        pool_room -= chosen.capacity_per_instance
        wanted -= chosen.capacity_per_instance
        allowed = left[key]
        if allowed is not None:
            left[key] = allowed - 1
    return plan


def _fits(
    option: LaunchOption, left: dict[str, int | None], used: dict[str, int], room: int
) -> bool:
    key = option.launch_config_id
    allowed = left[key]
    if allowed is not None and allowed <= 0:
        return False
    if option.capacity_per_instance > room:
        return False
    limit = option.max_capacity
    return limit is None or used[key] + option.capacity_per_instance <= limit
