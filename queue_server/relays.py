"""Which relay connection reaches which worker (protocol.md §18.3).

Viewers' streams are routed to the worker holding the run through `RelayRouter`, the seam
for running several queue replicas: `LocalRelays` knows the workers connected to this process
only (one queue on SQLite); `ReplicaRelays` (replica_relays.py) records in the shared store
which replica holds each worker's connection, and forwards `open()` to that replica when it is
not this one, returning a `Stream` proxied from there. The handlers are the same for both.

Invariant kept here: a worker has at most one relay connection in the router; a newer one
replaces the older, which is closed with CLOSE_REPLACED (a worker restarted before the old
connection was noticed dead).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from clients.protocol.relay import CLOSE_REPLACED, OpenStream
from clients.relay import Mux

__all__ = ["LocalRelays", "RelayRouter", "Stream", "WorkerKey", "WorkerNotConnectedError"]

log = logging.getLogger("infrax.queue.relay")


@dataclass(frozen=True)
class WorkerKey:
    worker_group: str
    worker_id: str


class WorkerNotConnectedError(Exception):
    """No relay connection of this worker reaches this router."""


class Stream(Protocol):
    """One viewer's stream to the worker (a clients.relay.Channel, or a proxy of one)."""

    async def send(self, data: bytes) -> None: ...

    async def receive(self) -> bytes | None: ...

    async def close(self, code: int = ..., reason: str = ...) -> None: ...

    @property
    def peer_closed(self) -> tuple[int, str] | None: ...


class RelayRouter(Protocol):
    def attached(self, worker: WorkerKey, mux: Mux) -> AbstractAsyncContextManager[None]:
        """Route the worker's streams through `mux` while inside (`async with`)."""
        ...

    async def open(self, worker: WorkerKey, request: OpenStream) -> Stream:
        """A stream to the worker: WorkerNotConnectedError, or clients.relay.StreamRefusedError."""
        ...

    def connected(self) -> int: ...

    def close_all(self, code: int, reason: str) -> None: ...

    def reachable_at(self, url: str) -> None:
        """The server listens: `url` is where other replicas reach it (--advertise-url)."""
        ...


class LocalRelays:
    """The workers connected to this process."""

    def __init__(self) -> None:
        self._muxes: dict[WorkerKey, Mux] = {}

    def connected(self) -> int:
        return len(self._muxes)

    def attach(self, worker: WorkerKey, mux: Mux) -> Callable[[], None]:
        older = self._muxes.get(worker)
        self._muxes[worker] = mux
        if older is not None:
            log.info("relay_replaced", extra={"worker_id": worker.worker_id})
            older.shut(CLOSE_REPLACED, "the worker connected again")

        def detach() -> None:
            if self._muxes.get(worker) is mux:
                del self._muxes[worker]

        return detach

    @asynccontextmanager
    async def attached(self, worker: WorkerKey, mux: Mux) -> AsyncIterator[None]:
        detach = self.attach(worker, mux)
        try:
            yield
        finally:
            detach()

    def replace(self, worker: WorkerKey, code: int, reason: str) -> bool:
        """Close the worker's connection here, replaced by one elsewhere; whether it was here."""
        mux = self._muxes.pop(worker, None)
        if mux is None:
            return False
        log.info("relay_replaced", extra={"worker_id": worker.worker_id})
        mux.shut(code, reason)
        return True

    def close_all(self, code: int, reason: str) -> None:
        for mux in self._muxes.values():
            mux.shut(code, reason)

    def reachable_at(self, url: str) -> None:
        pass  # no other replica asks this one

    async def open(self, worker: WorkerKey, request: OpenStream) -> Stream:
        mux = self._muxes.get(worker)
        if mux is None or mux.lost:
            raise WorkerNotConnectedError(
                f"worker {worker.worker_group}/{worker.worker_id} is not connected to the relay"
            )
        return await mux.open(request)
