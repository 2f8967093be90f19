"""Shared fixtures: a real queue server on 127.0.0.1, port 0, with its own event loop, on
each store (SQLite, and PostgreSQL in a schema of its own: tests/postgres.py); a real Docker
engine and the local busybox test image.

A test that needs Docker (it uses `docker_client` or `busybox_image`, runs with
`engine="docker"`, or is marked `docker`) skips where no engine answers, unless INFRAX_REQUIRE_DOCKER=1 (set by `.ci/run`): then the skip
is reported as a failure, so CI can never pass by silently skipping the Docker tests.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import docker.errors
import pytest
from aiohttp import web

from clients.protocol.events import Message
from queue_server.keys import BUS
from queue_server.main import serve
from queue_server.settings import Settings
from tests.images import busybox_image as build_busybox_image
from tests.postgres import STORES, postgres_schema
from tests.s3 import moto_s3  # noqa: F401  (a fixture, for every test)

if TYPE_CHECKING:
    from playwright.async_api import Browser

ROOT_TOKEN = "root-access-token-for-tests-only-0123456789"


@dataclass
class RunningQueue:
    root_url: str
    settings: Settings
    loop: asyncio.AbstractEventLoop
    runner: web.AppRunner
    messages: list[Message]
    arrived: threading.Condition

    def wait_for_message(
        self, predicate: Callable[[Message], bool], timeout: float = 15
    ) -> Message:
        """The first published message matching `predicate`, waiting for it if need be."""
        with self.arrived:
            found: list[Message] = []

            def seen() -> bool:
                found[:] = [m for m in self.messages if predicate(m)]
                return bool(found)

            if not self.arrived.wait_for(seen, timeout):
                raise AssertionError("no such message was published in time")
            return found[0]

    @property
    def root_credentials(self) -> dict[str, str]:
        return {"clientId": "root", "accessToken": ROOT_TOKEN}

    def options(self, credentials: dict[str, str] | None = None) -> dict[str, object]:
        options: dict[str, object] = {"rootUrl": self.root_url, "maxRetries": 0}
        if credentials is not None:
            options["credentials"] = dict(credentials)
        return options

    def root_options(self) -> dict[str, object]:
        return self.options(self.root_credentials)

    def call(self, coroutine: object) -> object:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)  # type: ignore[arg-type]


def start_queue(settings: Settings) -> tuple[RunningQueue, threading.Thread]:
    loop = asyncio.new_event_loop()
    ready: dict[str, object] = {}
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            runner, root_url = loop.run_until_complete(serve(settings))
            ready["runner"], ready["root_url"] = runner, root_url
        except BaseException as error:
            ready["error"] = error
        finally:
            started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(30)
    if "error" in ready:
        raise ready["error"]  # type: ignore[misc]
    runner = ready["runner"]
    assert isinstance(runner, web.AppRunner)
    messages: list[Message] = []
    arrived = threading.Condition()

    def collect(message: Message) -> None:
        with arrived:
            messages.append(message)
            arrived.notify_all()

    queue = RunningQueue(str(ready["root_url"]), settings, loop, runner, messages, arrived)

    async def subscribe() -> None:
        runner.app[BUS].subscribe(collect)

    queue.call(subscribe())
    return queue, thread


def stop_queue(queue: RunningQueue, thread: threading.Thread) -> None:
    queue.call(queue.runner.cleanup())
    queue.loop.call_soon_threadsafe(queue.loop.stop)
    thread.join(30)
    queue.loop.close()


def queue_settings(
    tmp_path: Path, database_url: str | None = None, **overrides: object
) -> Settings:
    base = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        database_pool_size=4,
        host="127.0.0.1",
        port=0,
        root_access_token=ROOT_TOKEN,
        resolver_interval_s=0.2,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@pytest.fixture(params=STORES)
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for SQLite in the test's data directory; else a PostgreSQL URL whose
    search_path is a schema made for this test alone and dropped after it."""
    if request.param == "sqlite":
        yield None
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def queue_overrides() -> dict[str, object]:
    """Settings a test module wants changed; override this fixture to change them."""
    return {}


@pytest.fixture
def blob_store(request: pytest.FixtureRequest) -> str | None:
    """None for the local-disk store; with `pytest.mark.parametrize("blob_store",
    tests.s3.BLOB_STORES, indirect=True)` also the URL of a fresh bucket on moto's S3."""
    if getattr(request, "param", "local") == "local":
        return None
    url: str = request.getfixturevalue("moto_s3").url()
    return url


@pytest.fixture
def queue(
    tmp_path: Path,
    database_url: str | None,
    blob_store: str | None,
    queue_overrides: dict[str, object],
) -> Iterator[RunningQueue]:
    settings = queue_settings(tmp_path, database_url, blob_store=blob_store, **queue_overrides)
    running, thread = start_queue(settings)
    try:
        yield running
    finally:
        stop_queue(running, thread)


# marker -> the variable that turns a skip of a test carrying it into a failure
REQUIRED_WHEN_SET = {
    "docker": "INFRAX_REQUIRE_DOCKER",
    "rabbitmq": "INFRAX_REQUIRE_RABBITMQ",
    "chromium": "INFRAX_REQUIRE_CHROMIUM",
}
DOCKER_FIXTURES = frozenset({"docker_client", "busybox_image"})
ENGINES = ["docker", "process"]
CHROMIUM = Path("/usr/bin/chromium")
# Flags that work on these machines (no sandbox as root, no GPU, nothing fetched from outside).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if DOCKER_FIXTURES & fixtures:
            item.add_marker(pytest.mark.docker)
        if "chromium" in fixtures:
            item.add_marker(pytest.mark.chromium)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if not report.skipped:
        return report
    for marker, variable in REQUIRED_WHEN_SET.items():
        if item.get_closest_marker(marker) and os.environ.get(variable) == "1":
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            report.outcome = "failed"
            report.longrepr = f"{variable}=1, so this skip is a failure: {reason}"
    return report


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """Debian's headless Chromium driven by Playwright; skips when it is not installed
    (scripts/chromium installs it), which INFRAX_REQUIRE_CHROMIUM=1 turns into a failure."""
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240  (once, before the browser starts)
        pytest.skip(f"no {CHROMIUM}; scripts/chromium installs it")
    try:
        from playwright.async_api import async_playwright
    except ImportError as error:
        pytest.skip(f"Playwright is not installed ({error})")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the local Docker engine; skips the test when none answers."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as error:
        pytest.skip(f"no Docker engine answers ({error}); scripts/docker-engine starts one")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def busybox_image(docker_client: docker.DockerClient) -> str:
    """The tag of the local busybox test image, built once per run (tests/images.py)."""
    return build_busybox_image(docker_client)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each worker engine in turn: "docker" (the local busybox image) and "process"."""
    if request.param == "docker":
        # Marked before the image is asked for: that is where the skip is raised, and the
        # marker is what makes INFRAX_REQUIRE_DOCKER=1 turn the skip into a failure.
        request.node.add_marker(pytest.mark.docker)
        request.getfixturevalue("busybox_image")
    return str(request.param)


@pytest.fixture
def image(engine: str, request: pytest.FixtureRequest) -> str:
    """The image for `engine`'s payloads: the busybox tag on Docker, "" for processes."""
    return str(request.getfixturevalue("busybox_image")) if engine == "docker" else ""
