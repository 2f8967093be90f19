"""A child that ends when the process that started it dies, however it dies.

`infrax up` runs its children in their own sessions (Ctrl-C reaches `up` alone), so nothing
stops them when `up` is killed with SIGKILL. `up` keeps the write end of a pipe whose read end
each child inherits, its number in INFRAX_PARENT_FD; the kernel closes the write end when `up`
dies, the child's watch thread reads end-of-file and sends its own process SIGTERM: the child
stops as it does on SIGTERM (the worker stops its running tasks and containers), and is killed
if it is still there `KILL_AFTER_S` later. A pipe rather than Linux's PR_SET_PDEATHSIG: that
one fires on the death of the parent *thread*, and it exists on Linux only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Mapping, MutableMapping

__all__ = ["ENV", "KILL_AFTER_S", "ParentPipe", "watch_parent"]

ENV = "INFRAX_PARENT_FD"
KILL_AFTER_S = 30.0  # after SIGTERM, as `up` itself waits for a child (worker grace + 20 s)


class ParentPipe:
    """The parent's side: `fd` goes to each child (pass_fds) with `env()`; the write end stays
    open in this process only (non-inheritable) until it exits."""

    def __init__(self) -> None:
        self.fd, self._write = os.pipe()

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        return {**base, ENV: str(self.fd)}

    def close(self) -> None:
        for fd in (self.fd, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def watch_parent(environ: MutableMapping[str, str]) -> None:
    """With INFRAX_PARENT_FD set, end this process when the parent's end of the pipe closes.
    The variable is removed and the fd made non-inheritable: the child's own children (tasks)
    must not hold it."""
    value = environ.pop(ENV, None)
    if value is None:
        return
    fd = int(value)
    os.set_inheritable(fd, False)
    threading.Thread(target=_watch, args=(fd,), name="parent-watch", daemon=True).start()


def _watch(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    threading.Event().wait(KILL_AFTER_S)
    os.kill(os.getpid(), signal.SIGKILL)
