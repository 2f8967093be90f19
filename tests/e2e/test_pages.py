"""The live log and shell pages in real headless Chromium (protocol.md §18.2), against a real
queue and worker (process engine, reached through the relay)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from clients.protocol.artifacts import ReferenceContent
from clients.protocol.livelog import SHELL_ARTIFACT, log_page_url
from tests.conftest import RunningQueue
from tests.livestreams import Viewer, artifact_created, live_url
from tests.workers import client, create, payload, resolution, running_worker, worker_settings

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

SCRIPT = (
    "echo first line; printf '\\033[31mRED ALERT\\033[0m plain\\n';"
    " while [ ! -e go ]; do sleep 0.05; done; echo second line"
)
TIMEOUT_MS = 60_000


async def _text(page: Page, selector: str) -> str:
    return str(await page.locator(selector).text_content() or "")


async def _wait_text(page: Page, selector: str, text: str) -> None:
    await page.wait_for_function(
        "([selector, text]) => (document.querySelector(selector)?.textContent || '').includes(text)",
        arg=[selector, text],
        timeout=TIMEOUT_MS,
    )


async def test_the_log_page_shows_lines_as_printed_in_colour_and_resumes_after_a_refresh(
    queue: RunningQueue, tmp_path: Path, chromium: Browser
) -> None:
    settings = worker_settings(queue, tmp_path, "process")
    async with running_worker(settings) as daemon, aiohttp.ClientSession() as session:
        assert daemon.relay is not None
        await asyncio.wait_for(daemon.relay.connected.wait(), 60)
        task_id = await create(queue, "process", payload("process", "", SCRIPT))
        viewer = Viewer(session, await live_url(queue, task_id))
        await viewer.start()
        await viewer.wait_for(b"RED ALERT")
        page = await chromium.new_page()
        await page.goto(log_page_url(queue.root_url, task_id))
        await _wait_text(page, "#log", "first line")
        assert await page.get_attribute("#state", "data-state") == "live"
        red = page.locator("#log").get_by_text("RED ALERT", exact=True)
        assert await red.evaluate("e => getComputedStyle(e).color") == "rgb(205, 49, 49)"
        assert "\nsecond line" not in await _text(page, "#log")  # the task is still running
        await page.reload()  # resumes from what it had, from the offset it reached
        await _wait_text(page, "#state", "live")
        resumed = await page.evaluate("document.body.dataset.resumedFrom")
        assert resumed is not None and int(resumed) > 0
        (settings.work_dir / "tasks" / f"infrax-{task_id}-0" / "go").touch()
        await _wait_text(page, "#log", "second line")
        await resolution(queue, task_id)
        await _wait_text(page, "#state", "complete")
        shown = await _text(page, "#log")
        assert shown.count("\nfirst line\n") == 1 and shown.count("\nsecond line\n") == 1
        finished = await chromium.new_page()  # a finished run: read from the stored log
        await finished.goto(log_page_url(queue.root_url, task_id, 0))
        await _wait_text(finished, "#state", "complete: completed")
        assert await _text(finished, "#log") == shown


async def test_a_command_typed_in_the_shell_page_prints_its_output(
    queue: RunningQueue, tmp_path: Path, chromium: Browser
) -> None:
    settings = worker_settings(queue, tmp_path, "process")
    script = "while [ ! -e go ]; do sleep 0.05; done"
    features = {"features": {"interactive": True}}
    async with running_worker(settings) as daemon:
        assert daemon.relay is not None
        await asyncio.wait_for(daemon.relay.connected.wait(), 60)
        task_id = await create(
            queue, "process", payload("process", "", script, **features),
            scopes=["generic-worker:interactive:infrax-test/process"],
        )  # fmt: skip
        await artifact_created(queue, task_id, SHELL_ARTIFACT)
        async with client(queue) as q:
            content = await q.artifact(task_id, 0, SHELL_ARTIFACT)
        assert isinstance(content, ReferenceContent)
        page = await chromium.new_page()
        await page.goto(content.url)
        await _wait_text(page, "#state", "connected")
        await page.locator(".xterm-helper-textarea").focus()
        await page.keyboard.type("echo hello-$((6*7))")
        await page.keyboard.press("Enter")
        await _wait_text(page, ".xterm-rows", "hello-42")
        await page.keyboard.type("touch go; exit")
        await page.keyboard.press("Enter")
        await _wait_text(page, "#state", "session closed (1000")
        await resolution(queue, task_id)
