"""Starting a service's application on a port and running it until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

__all__ = ["start_site", "until_signal"]


async def start_site(
    app: web.Application, host: str, port: int, public_url: str | None
) -> tuple[web.AppRunner, str]:
    """Serve `app`; its runner and the rootUrl clients reach it at (port 0 picks one)."""
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
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
