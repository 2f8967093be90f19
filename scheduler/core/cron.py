"""Cron schedules of hooks (protocol.md, "Schedules"): patterns in UTC, ticks in milliseconds.

A pattern has 5 fields (`min hour dom month dow`) or 6 with a leading seconds field, as in
Taskcluster. A list of patterns is a union: the next tick is the earliest over all of them.
"""

from __future__ import annotations

import datetime as dt

from croniter import CroniterError, croniter

__all__ = ["ScheduleError", "check_schedule", "next_tick"]


class ScheduleError(ValueError):
    """A pattern that does not parse; the message names it."""


def _iterator(pattern: str, start: dt.datetime) -> croniter:
    fields = pattern.split()
    if len(fields) not in (5, 6):
        raise ScheduleError(f"a schedule has 5 or 6 fields, not {len(fields)}, in {pattern}")
    try:
        return croniter(pattern, start, second_at_beginning=len(fields) == 6)
    except (CroniterError, ValueError, KeyError) as error:
        raise ScheduleError(f"{error} in {pattern}") from None


def check_schedule(patterns: list[str]) -> None:
    """Raise ScheduleError for the first pattern that does not parse."""
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    for pattern in patterns:
        _iterator(pattern, epoch)


def next_tick(patterns: list[str], after_ms: int) -> int | None:
    """The earliest tick strictly after `after_ms` over all patterns; None without patterns."""
    start = dt.datetime.fromtimestamp(after_ms / 1000, tz=dt.UTC)
    ticks = [int(_iterator(p, start).get_next(dt.datetime).timestamp() * 1000) for p in patterns]
    return min(ticks) if ticks else None
