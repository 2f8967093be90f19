"""When and how long the client waits before trying a call again (pure).

Answers of 500 and above and failures to reach the server are retried; a 4xx never is, since
sending the same request again cannot change the answer (protocol.md, "Errors").
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RetryPolicy", "is_retryable_status"]


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential backoff, bounded both in attempts and in each wait.

    The n-th retry (n from 0) waits ``base_delay_s * 2**n``, capped at ``max_delay_s``, then
    scaled by a random factor in ``[1 - jitter, 1 + jitter]`` (and capped again), so that many
    clients failing together do not come back together. The defaults are the official
    Taskcluster clients' (5 retries, 100 ms factor, 25 % randomisation, 30 s cap).
    """

    max_retries: int = 5
    base_delay_s: float = 0.1
    max_delay_s: float = 30.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("retry bounds must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def delay_s(self, retry: int, unit_random: float) -> float:
        """The wait before retry number ``retry`` (0-based); ``unit_random`` is in [0, 1)."""
        raw = min(self.max_delay_s, self.base_delay_s * 2.0 ** min(retry, 64))
        scaled = raw * (1.0 - self.jitter + 2.0 * self.jitter * unit_random)
        return min(self.max_delay_s, scaled)


def is_retryable_status(status: int) -> bool:
    """A server error may be transient; a client error (4xx) will not change on retry."""
    return status >= 500
