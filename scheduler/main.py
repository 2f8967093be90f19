"""`infrax scheduler`: serve the Hooks v1 API and fire hooks until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from clients.serving.site import ListenError, start_site, until_signal

from .app import create_app
from .settings import Settings, SettingsError, parse_settings

__all__ = ["command", "serve"]


async def serve(settings: Settings) -> tuple[web.AppRunner, str]:
    """Start the scheduler; returns its runner and the rootUrl its hooks API is served at."""
    return await start_site(create_app(settings), settings.host, settings.port, settings.public_url)


async def _run(settings: Settings) -> None:
    runner, root_url = await serve(settings)
    print(f"hooksRootUrl: {root_url}", flush=True)
    await until_signal(runner)


def command(argv: Sequence[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = parse_settings(argv)
    except SettingsError as error:
        sys.stderr.write(f"infrax scheduler: {error}\n")
        return 2
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_run(settings))
    except ListenError as error:
        sys.stderr.write(f"infrax scheduler: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(command(sys.argv[1:]))
