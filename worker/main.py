"""`infrax worker`: run the worker daemon until SIGTERM/SIGINT (or idle), then drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from clients.client import ClientError, Options, Queue, RetryPolicy
from clients.protocol.ids import split_task_queue_id

from .daemon import Daemon
from .engines.base import Engine
from .engines.docker import DockerEngine
from .engines.process import ProcessEngine
from .errors import WorkerError
from .features.caches import CachePool
from .host import HostFacts, host_facts, limits_for
from .livelog import LiveUrls, direct_server
from .registration import keep_registered, register
from .relay import RelayLink
from .run import WorkerContext
from .settings import Settings, SettingsError, parse_settings

__all__ = ["command", "serve", "worker_daemon"]

logger = logging.getLogger("infrax.worker")
# Reports and artifact calls outlast short queue outages: about two minutes of retries.
RUN_RETRIES = RetryPolicy(max_retries=10, base_delay_s=0.25, max_delay_s=15.0)
FIELDS = ("task_id", "run_id", "worker_id", "reason")


class _Fields(logging.Formatter):
    """Event name first, then the declared fields the record carries (STYLE.md 19)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = [f"{name}={getattr(record, name)}" for name in FIELDS if hasattr(record, name)]
        return f"{text} {' '.join(fields)}" if fields else text


async def _engine(settings: Settings) -> Engine:
    if settings.engine == "process":
        return ProcessEngine.for_user(settings.work_dir / "tasks", settings.run_as_user)
    worker = f"{settings.worker_group}/{settings.worker_id}"
    engine = await asyncio.to_thread(DockerEngine.connect, settings.capacity, worker)
    removed = await engine.remove_leftovers()
    if removed:
        logger.info("leftovers_removed", extra={"reason": f"{removed} container(s)"})
    return engine


async def _declare(queue: Queue, settings: Settings, facts: HostFacts) -> None:
    """Record the worker and its host in the queue; optional, claimWork records the worker
    too (without the host) when the credentials may not declare."""
    provisioner_id, worker_type = split_task_queue_id(settings.task_queue_id) or ("", "")
    try:
        await queue.declare_worker(
            provisioner_id,
            worker_type,
            settings.worker_group,
            settings.worker_id,
            host=facts.declared(),
        )
    except ClientError as error:
        logger.warning("declare_failed", extra={"reason": str(error)})


@asynccontextmanager
async def worker_daemon(settings: Settings, facts: HostFacts) -> AsyncIterator[Daemon]:
    """A daemon with its engine, queue client and live service, declared to the queue;
    closed on exit."""
    engine = await _engine(settings)
    options = Options(settings.root_url, settings.credentials, retry=RUN_RETRIES)
    queue = Queue(options)
    context = WorkerContext(
        settings, engine, queue, limits_for(settings, facts), CachePool(settings.cache_prefix)
    )
    try:
        async with _live(context) as relay:
            await _declare(queue, settings, facts)
            daemon = Daemon(context)
            daemon.relay = relay
            yield daemon
    finally:
        await queue.close()
        await engine.close()


@asynccontextmanager
async def _live(context: WorkerContext) -> AsyncIterator[RelayLink | None]:
    """The worker's own live-log server (--live-listen) and its relay connection (--relay),
    for the daemon's whole life (protocol.md §18)."""
    settings, service = context.settings, context.live
    async with contextlib.AsyncExitStack() as stack:
        direct = None
        if settings.live_address is not None:
            host, port = await stack.enter_async_context(
                direct_server(service, *settings.live_address)
            )
            direct = settings.live_url.rstrip("/") or f"http://{host}:{port}"
            logger.info("live_server", extra={"reason": f"viewers reach {direct}"})
        relay = None
        if settings.relay:
            relay = RelayLink(context.queue, settings.worker_group, settings.worker_id, service)
            task = asyncio.create_task(relay.run())
            task.add_done_callback(_relay_ended)
            stack.callback(task.cancel)
        context.live_urls = LiveUrls(direct, settings.root_url if settings.relay else None)
        yield relay


def _relay_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("relay_crashed", exc_info=task.exception())


async def serve(settings: Settings, facts: HostFacts) -> int:
    registration = None
    if settings.registration_secret:
        registration, settings = await register(settings)
    async with worker_daemon(settings, facts) as daemon:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, daemon.request_stop)
        print(
            f"worker: {settings.worker_group}/{settings.worker_id} claiming from"
            f" {settings.task_queue_id} (capacity {settings.capacity},"
            f" {daemon.context.engine.kind} engine)",
            flush=True,
        )
        if registration is None:
            return await daemon.run()
        keeper = asyncio.create_task(
            keep_registered(registration, settings, daemon.context.queue, daemon.request_stop)
        )
        try:
            return await daemon.run()
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)


def command(argv: Sequence[str]) -> int:
    handler = logging.StreamHandler()
    handler.setFormatter(_Fields("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    try:
        settings = parse_settings(argv)
    except SettingsError as error:
        print(f"infrax worker: {error}", file=sys.stderr)
        return 2
    facts = host_facts(settings.work_dir)
    logger.info("host", extra={"reason": facts.describe()})
    try:
        return asyncio.run(serve(settings, facts))
    except WorkerError as error:
        print(f"infrax worker: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(command(sys.argv[1:]))
