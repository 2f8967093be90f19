"""How long the worker waits after failures in a row (pure)."""

from __future__ import annotations

__all__ = ["MAX_BACKOFF_S", "backoff_s"]

MAX_BACKOFF_S = 30.0


def backoff_s(failures: int, unit_random: float) -> float:
    """The pause after `failures` failures in a row: 1, 2, 4 ... 30 s, +-50 % jitter."""
    return min(MAX_BACKOFF_S, 2.0 ** max(0, failures - 1)) * (0.5 + unit_random)
