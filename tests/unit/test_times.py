"""Wire timestamps: format_ms as JavaScript's toJSON writes them, whatever second it falls in."""

from __future__ import annotations

import datetime as dt
import random

from clients.protocol.times import format_ms, parse_time


def _reference(ms: int) -> str:
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def test_known_values() -> None:
    assert format_ms(0) == "1970-01-01T00:00:00.000Z"
    assert format_ms(1_714_564_800_007) == "2024-05-01T12:00:00.007Z"
    assert format_ms(-1) == "1969-12-31T23:59:59.999Z"
    assert format_ms(253_402_300_799_999) == "9999-12-31T23:59:59.999Z"


def test_every_millisecond_of_a_few_seconds_and_random_moments() -> None:
    """The same second formatted again (from its cache) gives each millisecond its own text."""
    rng = random.Random(8)
    values = [1_700_000_000_000 + i for i in range(-1500, 1500)]
    values += [rng.randrange(-62_000_000_000_000, 253_402_300_799_999) for _ in range(5000)]
    for ms in values + values[::-1]:
        assert format_ms(ms) == _reference(ms)


def test_round_trips_through_parse_time() -> None:
    for ms in (0, 999, 1_000, 1_714_564_800_007, 4_102_444_800_000):
        assert parse_time(format_ms(ms)) == ms
