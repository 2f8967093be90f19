"""The worker's relay connection to the queue (protocol.md §18.3).

One outbound websocket, authenticated with the worker's credentials, over which the queue
opens a stream for each viewer of a run this worker holds. It is kept for the worker's whole
life: when it drops (the queue restarts, a NAT forgets it), it is opened again after a
jittered exponential backoff (1, 2, 4 ... 30 s), and viewers reconnect through it. Heartbeat
pings keep it alive through idle hours.
"""

from __future__ import annotations

import asyncio
import logging
import random

from clients.client import ClientError, Queue

from .backoff import backoff_s
from .livelog import LiveService

__all__ = ["RelayLink"]

logger = logging.getLogger("infrax.worker.relay")


class RelayLink:
    def __init__(
        self, queue: Queue, worker_group: str, worker_id: str, service: LiveService
    ) -> None:
        self.queue = queue
        self.worker_group = worker_group
        self.worker_id = worker_id
        self.service = service
        self.connected = asyncio.Event()
        self.connections = 0  # how many times it connected
        self._changed = asyncio.Condition()

    async def until_connected(self, times: int = 1) -> None:
        """Wait until the connection was made `times` times and is up."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: self.connections >= times and self.connected.is_set()
            )

    async def _note(self, up: bool) -> None:
        if up:
            self.connections += 1
            self.connected.set()
        else:
            self.connected.clear()
        async with self._changed:
            self._changed.notify_all()

    async def run(self) -> None:
        """Stay connected until cancelled."""
        failures = 0
        while True:
            try:
                await self._connection()
                failures = 0
            except ClientError as error:
                failures += 1
                pause = backoff_s(failures, random.random())
                logger.warning("relay_failed", extra={"reason": f"{error}; again in {pause:.1f} s"})
                await asyncio.sleep(pause)
                continue
            await asyncio.sleep(backoff_s(1, random.random()) / 4)  # it ended: reconnect soon

    async def _connection(self) -> None:
        sessions: set[asyncio.Task[None]] = set()
        async with self.queue.relay(self.worker_group, self.worker_id) as connection:
            await self._note(up=True)
            logger.info("relay_connected", extra={"worker_id": self.worker_id})
            try:
                async for channel in connection:
                    task = asyncio.create_task(self.service.on_channel(channel))
                    sessions.add(task)
                    task.add_done_callback(sessions.discard)
            finally:
                await self._note(up=False)
                logger.info("relay_disconnected", extra={"worker_id": self.worker_id})
                for task in list(sessions):
                    task.cancel()
