"""The task, task-group, task-queue and home pages in real headless Chromium (protocol.md §18.2),
reading a real queue (and, for the task page, a real worker on the process engine)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest

from clients.protocol.ids import new_slugid
from queue_server.settings import DEFAULT_ANONYMOUS_SCOPES
from tests.conftest import RunningQueue
from tests.helpers import task_definition
from tests.workers import client, create, payload, resolution, running_worker, worker_settings

if TYPE_CHECKING:
    from playwright.async_api import Browser, Frame, Page

TIMEOUT_MS = 60_000


@pytest.fixture
def database_url() -> None:
    """The pages read the API, whichever store is behind it: SQLite is enough here."""
    return None


async def _wait_text(page: Page | Frame, selector: str, text: str) -> None:
    await page.wait_for_function(
        "([selector, text]) => (document.querySelector(selector)?.textContent || '').includes(text)",
        arg=[selector, text],
        timeout=TIMEOUT_MS,
    )


async def _text(page: Page, selector: str) -> str:
    return str(await page.locator(selector).text_content() or "")


async def _wait_attribute(page: Page, selector: str, name: str, value: str) -> None:
    await page.wait_for_function(
        "([selector, name, value]) => document.querySelector(selector)?.getAttribute(name) === value",
        arg=[selector, name, value],
        timeout=TIMEOUT_MS,
    )


async def _fetch_in_page(page: Page, url: str) -> bytes:
    """The bytes the browser gets for `url` (following redirects, as a click would)."""
    numbers = await page.evaluate(
        "async (url) => Array.from(new Uint8Array(await (await fetch(url)).arrayBuffer()))", url
    )
    return bytes(numbers)


async def test_the_task_page_shows_runs_log_and_artifacts_and_follows_the_run_live(
    queue: RunningQueue, tmp_path: Path, chromium: Browser
) -> None:
    settings = worker_settings(queue, tmp_path, "process")
    script = (
        "echo 'hello from the task'; printf 'made by the task' > out.txt;"
        " while [ ! -e go ]; do sleep 0.05; done; echo done"
    )
    artifacts = [{"type": "file", "path": "out.txt", "name": "public/out.txt"}]
    async with running_worker(settings) as daemon:
        assert daemon.relay is not None
        await asyncio.wait_for(daemon.relay.connected.wait(), 60)
        first = await create(queue, "process", payload("process", "", script, artifacts=artifacts))
        second = await create(
            queue, "process", payload("process", "", "true"), dependencies=[first]
        )
        page = await chromium.new_page()
        await page.goto(f"{queue.root_url}/tasks/{first}")
        await _wait_attribute(page, "#task-state .state", "data-state", "running")
        assert await page.get_attribute("#group-link", "href") == f"{queue.root_url}/groups/{first}"
        assert await page.get_attribute("#queue-link", "href") == (
            f"{queue.root_url}/queues/infrax-test/process"
        )
        await _wait_text(page, "#definition", "hello from the task")
        await _wait_text(page, "#dependent-list", second)
        log = page.frame_locator("#log-frame")
        await log.locator("#log").get_by_text("hello from the task").wait_for(timeout=TIMEOUT_MS)
        await _wait_text(page, "#runs-table", f"tests/{settings.worker_id}")
        (settings.work_dir / "tasks" / f"infrax-{first}-0" / "go").touch()
        await resolution(queue, task_id=first)
        await _wait_attribute(page, "#task-state .state", "data-state", "completed")
        artifact = page.locator('a.artifact[data-name="public/out.txt"]')
        await artifact.wait_for(timeout=TIMEOUT_MS)
        href = await artifact.get_attribute("href")
        assert href is not None
        assert await _fetch_in_page(page, href) == b"made by the task"
        backing = page.locator('a.artifact[data-name="public/logs/live_backing.log"]')
        await backing.wait_for(timeout=TIMEOUT_MS)
        backing_href = await backing.get_attribute("href")
        assert backing_href is not None
        assert b"hello from the task" in await _fetch_in_page(page, backing_href)
        dependent = await chromium.new_page()
        await dependent.goto(f"{queue.root_url}/tasks/{second}")
        await _wait_text(dependent, "#dependency-list", first)
        assert (
            await dependent.locator(
                f'#dependency-list li[data-task-id="{first}"] .state'
            ).get_attribute("data-state")
            == "completed"
        )
        await resolution(queue, task_id=second)


async def test_an_unknown_task_shows_an_error_saying_so(
    queue: RunningQueue, chromium: Browser
) -> None:
    task_id = new_slugid()
    page = await chromium.new_page()
    await page.goto(f"{queue.root_url}/tasks/{task_id}")
    await _wait_text(page, "#error", f"No task {task_id}")
    group = await chromium.new_page()
    await group.goto(f"{queue.root_url}/groups/{task_id}")
    await _wait_text(group, "#error", f"No task group {task_id}")


async def _create(queue: RunningQueue, group: str, dependencies: list[str], name: str) -> str:
    task_id = new_slugid()
    metadata = {"name": name, "description": "", "owner": "t@example.com", "source": "https://x"}
    definition = task_definition(
        "prov/wt", taskGroupId=group, dependencies=dependencies, metadata=metadata
    )
    async with client(queue) as q:
        await q.create_task(task_id, definition)
    return task_id


async def _node_states(page: Page) -> dict[str, str]:
    states: dict[str, str] = await page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#graph .node')]"
        ".map(n => [n.dataset.taskId, n.dataset.state]))"
    )
    return states


async def _edges(page: Page) -> set[tuple[str, str]]:
    pairs = await page.evaluate(
        "[...document.querySelectorAll('#graph path.edge')].map(e => [e.dataset.from, e.dataset.to])"
    )
    return {(a, b) for a, b in pairs}


async def test_the_group_page_draws_the_graph_and_recolours_it_live(
    queue: RunningQueue, chromium: Browser
) -> None:
    group = new_slugid()
    a = await _create(queue, group, [], "a")
    b = await _create(queue, group, [a], "b")
    c = await _create(queue, group, [a], "c")
    d = await _create(queue, group, [b, c], "d")
    page = await chromium.new_page()
    await page.goto(f"{queue.root_url}/groups/{group}")
    await page.wait_for_function("document.body.dataset.ready === 'true'", timeout=TIMEOUT_MS)
    assert await _node_states(page) == {
        a: "pending",
        b: "unscheduled",
        c: "unscheduled",
        d: "unscheduled",
    }
    assert await _edges(page) == {(a, b), (a, c), (b, d), (c, d)}
    colour = await page.locator(f'#graph .node[data-task-id="{a}"] rect').evaluate(
        "e => getComputedStyle(e).fill"
    )
    assert colour == "rgb(232, 163, 23)"  # --pending
    layers = await page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#graph .node')]"
        ".map(n => [n.dataset.taskId, Number(n.dataset.depth)]))"
    )
    assert layers == {a: 0, b: 1, c: 1, d: 2}
    async with client(queue) as q:
        claimed = await q.claim_work("prov/wt", worker_group="g", worker_id="w1")
        assert [claim.status.task_id for claim in claimed.tasks] == [a]
        await _wait_attribute(page, f'#graph .node[data-task-id="{a}"]', "data-state", "running")
        await q.report_completed(a, 0)
    await _wait_attribute(page, f'#graph .node[data-task-id="{a}"]', "data-state", "completed")
    await _wait_attribute(page, f'#graph .node[data-task-id="{b}"]', "data-state", "pending")
    assert (
        await page.locator(f'#group-table tr[data-task-id="{a}"] .state').get_attribute(
            "data-state"
        )
        == "completed"
    )
    e = await _create(queue, group, [d], "e")  # a new task appears without a reload
    await _wait_attribute(page, f'#graph .node[data-task-id="{e}"]', "data-state", "unscheduled")
    assert (d, e) in await _edges(page)
    await page.locator(f'#graph .node[data-task-id="{b}"]').click()
    await page.wait_for_url(f"{queue.root_url}/tasks/{b}", timeout=TIMEOUT_MS)
    await _wait_attribute(page, "#task-state .state", "data-state", "pending")


async def _claimed_by_w1(queue: RunningQueue, group: str) -> str:
    """A task of prov/wt created in `group` and claimed by worker g/w1."""
    task_id = await _create(queue, group, [], "runs on w1")
    async with client(queue) as q:
        claimed = await q.claim_work("prov/wt", worker_group="g", worker_id="w1")
    assert [claim.status.task_id for claim in claimed.tasks] == [task_id]
    return task_id


async def test_the_queue_page_shows_counts_and_the_task_a_worker_runs(
    queue: RunningQueue, chromium: Browser
) -> None:
    group = new_slugid()
    running = await _claimed_by_w1(queue, group)
    page = await chromium.new_page()
    await page.goto(f"{queue.root_url}/queues/prov/wt")
    await _wait_text(page, "#claimed-count", "1")
    await _wait_text(page, "#pending-count", "0")
    await _wait_text(page, '#workers tr[data-worker="g/w1"]', running)
    await _create(queue, group, [], "waits")  # the counts follow without a reload
    await _wait_text(page, "#pending-count", "1")
    encoded = await chromium.new_page()  # the id percent-encoded, as the clients send it
    await encoded.goto(f"{queue.root_url}/queues/prov%2Fwt")
    await _wait_text(encoded, "#pending-count", "1")


async def test_the_home_page_lists_queues_and_opens_ids(
    queue: RunningQueue, chromium: Browser
) -> None:
    group = new_slugid()
    task_id = await _claimed_by_w1(queue, group)
    await _create(queue, group, [], "two")
    page = await chromium.new_page()
    await page.goto(f"{queue.root_url}/")
    await _wait_text(page, '#queues tr[data-queue="prov/wt"]', "prov/wt")
    row = page.locator('#queues tr[data-queue="prov/wt"]')
    assert await row.locator(".pending").text_content() == "1"
    assert await row.locator(".claimed").text_content() == "1"
    for typed, address in (
        (task_id, f"/tasks/{task_id}"),
        (group, f"/groups/{group}"),
        ("prov/wt", "/queues/prov/wt"),
    ):
        await page.goto(f"{queue.root_url}/")
        await page.fill("#open-id", typed)
        await page.press("#open-id", "Enter")
        await page.wait_for_url(f"{queue.root_url}{address}", timeout=TIMEOUT_MS)
    await page.goto(f"{queue.root_url}/")
    unknown = new_slugid()
    await page.fill("#open-id", unknown)
    await page.press("#open-id", "Enter")
    await _wait_text(page, "#open-error", f"No task or task group {unknown}")


async def test_the_pages_are_served_with_a_base_for_their_depth(queue: RunningQueue) -> None:
    async with aiohttp.ClientSession() as session:
        for path, base in (("/", "./"), ("/tasks/x", "../"), ("/queues/p/w", "../../")):
            async with session.get(queue.root_url + path) as response:
                assert response.status == 200
                assert f'<base href="{base}">' in await response.text()


NO_WORKER_LIST = {
    "anonymous_scopes": tuple(s for s in DEFAULT_ANONYMOUS_SCOPES if s != "queue:list-workers:*")
}


@pytest.mark.parametrize("queue_overrides", [NO_WORKER_LIST])
async def test_the_queue_page_says_why_workers_are_hidden_from_anonymous_visitors(
    queue: RunningQueue, chromium: Browser
) -> None:
    await _claimed_by_w1(queue, new_slugid())
    page = await chromium.new_page()
    await page.goto(f"{queue.root_url}/queues/prov/wt")
    await _wait_text(page, "#workers .notice", "anonymous visitors do not hold")
    assert "queue:list-workers:prov/wt" in await _text(page, "#workers .notice")
    await _wait_text(page, "#claimed-count", "1")  # what anonymous visitors may read still shows


async def test_the_group_page_reads_every_page_of_a_large_group(
    queue: RunningQueue, chromium: Browser
) -> None:
    group = new_slugid()
    root = await _create(queue, group, [], "root")
    children = 1000  # with the root, one more than a page of listTaskGroup
    for start in range(0, children, 100):
        await asyncio.gather(
            *(_create(queue, group, [root], f"child {i}") for i in range(start, start + 100))
        )
    page = await chromium.new_page()
    await page.goto(f"{queue.root_url}/groups/{group}")
    await page.wait_for_function("document.body.dataset.ready === 'true'", timeout=TIMEOUT_MS)
    states = await _node_states(page)
    assert len(states) == children + 1 and states[root] == "pending"
    assert set(states.values()) == {"pending", "unscheduled"}
    edges = await _edges(page)
    assert len(edges) == children and {a for a, _ in edges} == {root}
    assert await page.locator("#group-table tbody tr").count() == children + 1
