"""Interactive shells (protocol.md §18.4; reference 5.5): `features.interactive`.

The run gets a shell secret and a shell host on the live service; `private/infrax/shell.html`
is a reference artifact to the shell page for the run (being private, only callers allowed to
read it find the secret). Shells attach while the task runs and after its command exited, as
long as the run holds its container (or task directory): while a session is open (at most
`max_keep_alive_s` after the command exited), and, when the task failed, for
`features.keepAliveOnFailure` seconds, so its exact environment can be debugged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any

from clients.client import ClientError
from clients.protocol.artifacts import ReferenceArtifactRequest
from clients.protocol.livelog import SHELL_ARTIFACT, SHELL_CONTENT_TYPE, shell_page_url

from ..livelog import new_secret
from ..shells import ShellHost, Terminal
from .livelog import live_expiry, live_run

if TYPE_CHECKING:
    from ..run import Run

__all__ = ["Interactive"]


class Interactive:
    name = "interactive"

    def is_requested(self, run: Run) -> bool:
        return run.job is not None and run.job.interactive

    @asynccontextmanager
    async def enter(self, run: Run) -> AsyncIterator[None]:
        live = live_run(run)
        execution = run.execution
        assert execution is not None

        async def open_terminal() -> Terminal:
            return await execution.terminal()

        host = ShellHost(open_terminal, run.settings.max_shell_sessions, run.log)
        live.shells, live.shell_secret = host, new_secret()
        await self._publish(run, live.shell_secret)
        try:
            yield
            await _hold(run, host)
        finally:
            await host.close_all()

    async def _publish(self, run: Run, secret: str) -> None:
        assert run.job is not None
        socket = run.context.live_urls.shell(run.task_id, run.run_id, secret)
        if socket is None:
            run.log.line("interactive: this worker serves no shells (no relay, no address)")
            return
        run_for = run.job.max_run_time_s + run.job.keep_alive_on_failure_s
        request = ReferenceArtifactRequest(
            expires=live_expiry(int(time.time() * 1000), run_for, run.task.expires),
            url=shell_page_url(run.settings.root_url, socket, run.task_id, run.run_id),
            content_type=SHELL_CONTENT_TYPE,
        )
        try:
            await run.queue.create_artifact(run.task_id, run.run_id, SHELL_ARTIFACT, request)
        except ClientError as error:
            run.log.line(f"interactive: the shell could not be published: {error}")
            return
        limit = run.settings.max_shell_sessions
        run.log.line(f"interactive: shells open from {SHELL_ARTIFACT} (at most {limit} at once)")


async def _hold(run: Run, host: ShellHost) -> None:
    """Keep the finished job's container for keepAliveOnFailure, then while sessions are open."""
    assert run.job is not None
    failed = run.exit_code not in (0, None) and run.abort_reason is None
    keep = run.job.keep_alive_on_failure_s if failed else 0
    if keep:
        run.log.line(
            f"the task failed; its environment is kept {keep} s for debugging:"
            f" open a shell from {SHELL_ARTIFACT}"
        )
        await _first(keep, run.aborted.wait())
    if not host.idle.is_set() and not run.aborted.is_set():
        run.log.line(f"waiting for {host.sessions} open shell session(s) to close")
        await _first(run.settings.max_keep_alive_s, host.idle.wait(), run.aborted.wait())


async def _first(timeout_s: float, *waits: Coroutine[Any, Any, object]) -> None:
    """Until the first of `waits` is done, or `timeout_s` passed."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
