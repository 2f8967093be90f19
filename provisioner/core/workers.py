"""Worker states and the moves between them (protocol.md, "Worker lifecycle").

Pure. `requested` (launched, not registered) -> `running` (registered) -> `stopping` (being
removed) -> `stopped` (gone; the row stays until it expires). A launched worker that dies or
is removed before it registers may skip states. In the store each move is an UPDATE guarded by
the states it may come from.
"""

from __future__ import annotations

from clients.protocol.worker_manager import WorkerState

__all__ = ["LIVE", "TRANSITIONS", "sources_of"]

S = WorkerState
TRANSITIONS: dict[WorkerState, frozenset[WorkerState]] = {
    S.requested: frozenset({S.running, S.stopping, S.stopped}),
    S.running: frozenset({S.stopping, S.stopped}),
    S.stopping: frozenset({S.stopped}),
    S.stopped: frozenset(),
}
LIVE = (S.requested, S.running, S.stopping)  # every state but stopped


def sources_of(target: WorkerState) -> tuple[WorkerState, ...]:
    """The states a worker may be in to move to `target`."""
    return tuple(state for state, targets in TRANSITIONS.items() if target in targets)
