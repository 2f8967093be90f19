"""The client's backoff: exponential, jittered within its band, capped; 4xx never retried."""

from __future__ import annotations

import pytest

from clients.client import RetryPolicy
from clients.client.retry import is_retryable_status


def test_delays_double_from_the_base_without_jitter() -> None:
    policy = RetryPolicy(base_delay_s=0.1, max_delay_s=30, jitter=0)
    assert [policy.delay_s(n, 0.7) for n in range(4)] == pytest.approx([0.1, 0.2, 0.4, 0.8])


@pytest.mark.parametrize("unit_random", [0.0, 0.25, 0.5, 0.999])
def test_jitter_stays_within_its_band(unit_random: float) -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=100, jitter=0.25)
    assert 0.75 <= policy.delay_s(0, unit_random) <= 1.25
    assert 3.0 <= policy.delay_s(2, unit_random) <= 5.0


def test_jitter_spreads_clients_apart() -> None:
    policy = RetryPolicy(base_delay_s=1.0, jitter=0.25)
    assert policy.delay_s(1, 0.0) < policy.delay_s(1, 0.5) < policy.delay_s(1, 0.99)


def test_every_wait_is_capped_even_after_many_retries() -> None:
    policy = RetryPolicy(base_delay_s=0.1, max_delay_s=5.0, jitter=0.25)
    assert policy.delay_s(1000, 0.999) == 5.0
    assert policy.delay_s(1000, 0.0) == pytest.approx(3.75)


def test_nonsense_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2)


@pytest.mark.parametrize(("status", "retried"), [(500, True), (503, True), (400, False),
                                                  (404, False), (409, False), (429, False)])  # fmt: skip
def test_only_server_errors_are_retried(status: int, retried: bool) -> None:
    assert is_retryable_status(status) is retried
