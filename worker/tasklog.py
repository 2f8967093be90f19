"""The task log: everything a task printed, plus the worker's own lines, in one file.

The file is written as output arrives, so it is a stream: `follow()` yields it from byte 0 and
then each new chunk until the log is closed, which is how a live-log server taps it. At the end
of the run the file is uploaded as `public/logs/live_backing.log` (uploads.py); live viewers
read it through the live-log service (livelog.py).
The worker's lines start with `[infrax <time>]`; they never carry credentials.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from clients.protocol.livelog import WORKER_LINE
from clients.protocol.times import format_ms

__all__ = ["TaskLog"]

CHUNK = 64 * 1024


class TaskLog:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._file = path.open("wb")
        self._changed = asyncio.Event()
        self.closed = False

    @property
    def size(self) -> int:
        return self._file.tell() if not self.closed else self.path.stat().st_size

    def write(self, data: bytes) -> None:
        """Append task output (called on the event loop's thread)."""
        if self.closed or not data:
            return
        self._file.write(data)
        self._file.flush()
        self._wake()

    def line(self, message: str) -> None:
        """Append one of the worker's own lines."""
        stamp = format_ms(int(self._clock() * 1000))
        self.write(f"{WORKER_LINE}{stamp}] {message}\n".encode())

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            self.closed = True
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self, offset: int = 0) -> AsyncIterator[bytes]:
        """The log from byte `offset`, then every chunk as it is written, until closed."""
        with self.path.open("rb") as reader:
            reader.seek(offset)
            while True:
                changed = self._changed
                chunk = reader.read(CHUNK)
                if chunk:
                    yield chunk
                elif self.closed:
                    return
                else:
                    await changed.wait()
