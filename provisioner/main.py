"""`infrax provisioner`: serve the Worker-Manager v1 API and run the pools until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence

from aiohttp import web

from clients.serving.logs import configure_logging
from clients.serving.site import ListenError, start_site, until_signal

from .app import create_app
from .keys import PROVISIONER
from .poolfile import PoolFileUnusableError
from .settings import Settings, SettingsError, parse_settings

__all__ = ["command", "serve"]


async def serve(settings: Settings, *, loop: bool = True) -> tuple[web.AppRunner, str]:
    """Start the provisioner (API and loop); its runner and the worker-manager rootUrl.

    `await runner.cleanup()` stops it and the workers it launched. Workers are told this
    rootUrl to register with. With `loop=False` the loop only runs when `run_once` is called
    (`runner.app[PROVISIONER]`), for tests and embedding.
    """
    app = create_app(settings)
    runner, root_url = await start_site(app, settings.host, settings.port, settings.public_url)
    app[PROVISIONER].start(root_url, background=loop)
    return runner, root_url


async def _run(settings: Settings) -> None:
    runner, root_url = await serve(settings)
    print(f"workerManagerRootUrl: {root_url}", flush=True)
    await until_signal(runner)


def command(argv: Sequence[str]) -> int:
    configure_logging()
    try:
        settings = parse_settings(argv)
    except SettingsError as error:
        sys.stderr.write(f"infrax provisioner: {error}\n")
        return 2
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_run(settings))
    except PoolFileUnusableError as error:
        sys.stderr.write(f"infrax provisioner: {error}\n")
        return 2
    except ListenError as error:
        sys.stderr.write(f"infrax provisioner: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(command(sys.argv[1:]))
