"""`infrax queue`: run the queue server until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
from collections.abc import Callable, Sequence

from aiohttp import web

from clients.serving.site import ListenError, listen

from .app import create_app
from .artifacts import BlobStoreConfigError
from .keys import RELAYS
from .settings import Settings, parse_settings

__all__ = ["advertise_url", "command", "serve"]

READ_BUFSIZE = 256 * 1024  # request bodies are read in chunks of up to this (artifact uploads)
# Connections waiting to be accepted: thousands of workers reconnect at once after a restart
# (the kernel caps it at net.core.somaxconn).
LISTEN_BACKLOG = 4096
# The cyclic collector's youngest generation is collected once this many more container objects
# were made than freed, not CPython's 700: requests in flight hold hundreds each (coroutines,
# futures, dicts, Structs), which reference counting frees when they end, so a collection every
# 700 walked them for nothing (~0.1 ms of CPU per lifecycle task; docs/benchmarks.md).
GC_YOUNG_THRESHOLD = 20_000


def settle_collector() -> None:
    """After start-up: the modules, tables and caches made so far live as long as the process,
    so they are moved out of the collector's sight (`gc.freeze`), and young collections made
    rarer (GC_YOUNG_THRESHOLD)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def advertise_url(host: str, port: int) -> str:
    """Where the other replicas reach this one, when --advertise-url does not say: the address
    it listens on, or, listening on every interface, this machine's own address."""
    if host in ("", "0.0.0.0", "::"):
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            host = socket.gethostname()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(settings: Settings) -> tuple[web.AppRunner, str]:
    """Start the server; returns its runner and the rootUrl it serves."""
    # auto_decompress=False: a body sent with Content-Encoding (a gzip artifact) is stored as
    # sent and served with its encoding (protocol.md, "Blob transfer").
    runner = web.AppRunner(
        create_app(settings),
        handler_cancellation=True,
        access_log=None,
        auto_decompress=False,
        read_bufsize=READ_BUFSIZE,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=LISTEN_BACKLOG)
    try:
        await listen(site, settings.host, settings.port)
    except ListenError:
        await runner.cleanup()
        raise
    port = runner.addresses[0][1] if settings.port == 0 else settings.port
    root_url = settings.public_url or f"http://{settings.host}:{port}"
    runner.app[RELAYS].reachable_at(settings.advertise_url or advertise_url(settings.host, port))
    return runner, root_url.rstrip("/")


async def _run(settings: Settings) -> None:
    runner, root_url = await serve(settings)
    settle_collector()
    print(f"rootUrl: {root_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop (fewer CPU cycles per request) when chosen or, with `auto`, installed."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise SystemExit(
                "infrax queue: --event-loop uvloop, but uvloop is not installed"
            ) from None
        return None
    return uvloop.new_event_loop


def command(argv: Sequence[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = parse_settings(argv)
    try:
        with (
            contextlib.suppress(KeyboardInterrupt),
            asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner,
        ):
            runner.run(_run(settings))
    except ListenError as error:
        sys.stderr.write(f"infrax queue: {error}\n")
        return 1
    except BlobStoreConfigError as error:
        raise SystemExit(f"infrax queue: {error}") from None
    return 0


if __name__ == "__main__":
    sys.exit(command(sys.argv[1:]))
