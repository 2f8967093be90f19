"""Starting a service's application on a port and running it until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import errno
import os
import signal

from aiohttp import web

__all__ = ["ListenError", "listen", "start_site", "until_signal"]


class ListenError(Exception):
    """The address cannot be listened on; the message says which and why, on one line."""


async def listen(site: web.BaseSite, host: str, port: int) -> None:
    """Start `site`, its failure to bind (port taken, bad host) a `ListenError`
    `cannot listen on HOST:PORT: REASON`."""
    try:
        await site.start()
    except OSError as error:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise ListenError(f"cannot listen on {where}: {_reason(error)}") from None


def _reason(error: OSError) -> str:
    if error.errno and error.errno > 0 and error.errno in errno.errorcode:
        return os.strerror(error.errno).lower()
    return (error.strerror or str(error)).lower()  # getaddrinfo's: "name or service not known"


async def start_site(
    app: web.Application, host: str, port: int, public_url: str | None
) -> tuple[web.AppRunner, str]:
    """Serve `app`; its runner and the rootUrl clients reach it at (port 0 picks one)."""
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await listen(site, host, port)
    except ListenError:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1] if port == 0 else port
    return runner, (public_url or f"http://{host}:{bound}").rstrip("/")


async def until_signal(runner: web.AppRunner) -> None:
    """Wait for SIGINT or SIGTERM, then clean the application up."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
