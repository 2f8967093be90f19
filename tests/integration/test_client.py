"""The typed client against a real queue: typed answers, typed errors, pages, credentials,
retries (against a real HTTP server that fails on purpose) and the sync wrapper."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import slugid
from aiohttp import web

from clients import hawk
from clients.client import (
    Auth,
    AuthenticationFailed,
    InputError,
    InsufficientScopes,
    Options,
    Queue,
    RequestConflict,
    ResourceNotFound,
    RetryPolicy,
    ServerError,
    SyncClient,
    TransportError,
    credentials_of,
)
from clients.protocol.states import RunState, TaskState
from clients.protocol.tasks import Task
from tests.conftest import ROOT_TOKEN, RunningQueue
from tests.helpers import task_definition

ROOT = hawk.Credentials("root", ROOT_TOKEN)
FAST = RetryPolicy(max_retries=3, base_delay_s=0.001, max_delay_s=0.01)


@pytest.fixture
async def client(queue: RunningQueue) -> AsyncIterator[Queue]:
    async with Queue(Options(queue.root_url, ROOT, retry=FAST)) as client:
        yield client


async def test_created_task_reads_back_as_typed_structs(client: Queue) -> None:
    task_id = slugid.nice()
    created = await client.create_task(task_id, task_definition(priority="high"))
    assert created.status.task_id == task_id
    assert created.status.state is TaskState.pending
    task = await client.task(task_id)
    assert isinstance(task, Task)
    assert (task.task_queue_id, task.priority, task.metadata.name) == ("prov/wt", "high", "a task")
    status = await client.status(task_id)
    assert status.status.runs[0].state is RunState.pending


async def test_errors_carry_status_code_and_the_servers_message(
    client: Queue, queue: RunningQueue
) -> None:
    with pytest.raises(ResourceNotFound) as missing:
        await client.status(slugid.nice())
    assert (missing.value.status, missing.value.code) == (404, "ResourceNotFound")
    with pytest.raises(InputError) as bad:
        await client.create_task(slugid.nice(), task_definition(retries="five"))
    assert bad.value.code == "InputValidationError"
    assert "$.retries" in bad.value.explanation
    task_id = slugid.nice()
    await client.create_task(task_id, task_definition())
    with pytest.raises(RequestConflict):
        await client.create_task(task_id, task_definition(priority="high"))
    async with Queue(Options(queue.root_url)) as anonymous:
        with pytest.raises(InsufficientScopes, match="anonymous") as refused:
            await anonymous.cancel_task(task_id)
    assert refused.value.status == 403
    async with Queue(Options(queue.root_url, hawk.Credentials("root", "wrong"))) as forged:
        with pytest.raises(AuthenticationFailed):
            await forged.status(task_id)


async def test_iterators_walk_every_page(client: Queue) -> None:
    group = slugid.nice()
    made = {slugid.nice() for _ in range(5)}
    for task_id in made:
        await client.create_task(task_id, task_definition(taskGroupId=group))
    first = await client.list_task_group(group, limit=2)
    assert len(first.tasks) == 2
    assert isinstance(first.continuation_token, str)
    seen = [item.status.task_id async for item in client.iter_list_task_group(group, limit=2)]
    assert sorted(seen) == sorted(made)
    ids = sorted(made)
    walked = [item.task_id async for item in client.iter_statuses(ids, limit=2)]
    assert walked == ids


async def test_a_worker_switches_to_claim_and_then_reclaim_credentials(client: Queue) -> None:
    task_id, other = slugid.nice(), slugid.nice()
    queue_id = f"prov/{slugid.nice().lower().replace('_', '-')[:10]}x"
    await client.create_task(task_id, task_definition(queue_id))
    await client.create_task(other, task_definition("prov/elsewhere"))
    claims = await client.claim_work(queue_id, worker_group="g", worker_id="w")
    [claim] = claims.tasks
    assert claim.status.task_id == task_id
    worker = client.with_credentials(credentials_of(claim.credentials))
    assert worker.credentials is not None
    assert worker.credentials.client_id.startswith("task-client/")
    reclaimed = await worker.reclaim_task(task_id, claim.run_id)
    assert reclaimed.credentials.access_token != claim.credentials.access_token
    worker.use_credentials(credentials_of(reclaimed.credentials))
    assert worker.credentials.access_token == reclaimed.credentials.access_token  # type: ignore[union-attr]
    with pytest.raises(InsufficientScopes):
        await worker.cancel_task(other)
    done = await worker.report_completed(task_id, claim.run_id)
    assert done.status.state is TaskState.completed
    with pytest.raises(RequestConflict):
        await worker.reclaim_task(task_id, claim.run_id)
    assert client.credentials == ROOT  # the original client kept its credentials


async def test_authorized_scopes_narrow_what_a_client_may_do(
    client: Queue, queue: RunningQueue
) -> None:
    task_id = slugid.nice()
    await client.create_task(task_id, task_definition())
    narrow = client.with_credentials(ROOT, authorized_scopes=[f"queue:status:{task_id}"])
    assert (await narrow.status(task_id)).status.task_id == task_id
    with pytest.raises(InsufficientScopes):
        await narrow.cancel_task(task_id)


async def test_temporary_credentials_with_a_certificate_come_from_the_environment(
    queue: RunningQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    now_ms = int(time.time() * 1000)
    temporary = hawk.create_temporary_credentials(
        issuer_client_id="root",
        issuer_access_token=ROOT_TOKEN,
        start_ms=now_ms - 60_000,
        expiry_ms=now_ms + 3_600_000,
        scopes=["queue:status:*", "auth:*"],
    )
    assert temporary.certificate is not None
    monkeypatch.setenv("TASKCLUSTER_ROOT_URL", queue.root_url)
    monkeypatch.setenv("TASKCLUSTER_CLIENT_ID", temporary.client_id)
    monkeypatch.setenv("TASKCLUSTER_ACCESS_TOKEN", temporary.access_token)
    monkeypatch.setenv("TASKCLUSTER_CERTIFICATE", temporary.certificate)
    async with Auth.from_env() as auth:
        scopes = (await auth.current_scopes()).scopes
    assert {"queue:status:*", "auth:*"} <= set(scopes)
    assert "*" not in scopes  # the certificate's scopes, not the issuer's
    async with Queue.from_env() as from_env:
        with pytest.raises(InsufficientScopes):
            await from_env.create_task(slugid.nice(), task_definition())


async def test_auth_client_manages_clients(client: Queue) -> None:
    auth = client.sibling(Auth)
    made = await auth.create_client(
        "ci/builder",
        {"expires": "3000-01-01T00:00:00.000Z", "scopes": ["queue:status:*"]},
    )
    assert made.access_token
    await auth.create_client("ci/tester", {"expires": "3000-01-01T00:00:00.000Z"})
    listed = [c.client_id async for c in auth.iter_list_clients(prefix="ci/", limit=1)]
    assert listed == ["ci/builder", "ci/tester"]
    builder = client.with_credentials(hawk.Credentials("ci/builder", made.access_token))
    with pytest.raises(ResourceNotFound):
        await builder.status(slugid.nice())  # authenticated, authorized, and not found
    await auth.delete_client("ci/builder")
    with pytest.raises(ResourceNotFound):
        await auth.client("ci/builder")


def test_sync_wrapper_calls_and_iterates(queue: RunningQueue) -> None:
    with SyncClient(Queue(Options(queue.root_url, ROOT))) as sync:
        group = slugid.nice()
        task_id = slugid.nice()
        sync.create_task(task_id, task_definition(taskGroupId=group))
        assert sync.run(lambda q: q.status(task_id)).status.task_id == task_id
        assert sync.status(task_id).status.state == "pending"
        assert [item.status.task_id for item in sync.iter_list_task_group(group)] == [task_id]
        with pytest.raises(ResourceNotFound):
            sync.task(slugid.nice())


# -- retries, against a real HTTP server that fails on purpose -----------------------------------


class Flaky:
    """Answers ping with the given statuses in turn, then 200; counts the requests."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests = 0

    async def ping(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.statuses:
            status = self.statuses.pop(0)
            return web.json_response(
                {"code": "Oops", "message": f"failing {status}"}, status=status
            )
        return web.json_response({"alive": True, "uptime": 1.5})


@pytest.fixture
async def flaky_server() -> AsyncIterator[tuple[Flaky, str]]:
    flaky = Flaky()
    app = web.Application()
    app.router.add_get("/api/queue/v1/ping", flaky.ping)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield flaky, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_server_errors_are_retried_with_growing_waits(
    flaky_server: tuple[Flaky, str],
) -> None:
    flaky, root_url = flaky_server
    flaky.statuses = [503, 500, 502]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    policy = RetryPolicy(max_retries=3, base_delay_s=0.1, jitter=0.25)
    async with Queue(Options(root_url, retry=policy), sleep=sleep, rng=lambda: 0.5) as client:
        assert (await client.ping()).alive
    assert flaky.requests == 4
    assert waits == pytest.approx([0.1, 0.2, 0.4])


async def test_retries_are_bounded_and_the_last_answer_is_raised(
    flaky_server: tuple[Flaky, str],
) -> None:
    flaky, root_url = flaky_server
    flaky.statuses = [500] * 10
    async with Queue(Options(root_url, retry=FAST)) as client:
        with pytest.raises(ServerError) as failed:
            await client.ping()
    assert failed.value.status == 500
    assert failed.value.explanation == "failing 500"
    assert flaky.requests == FAST.max_retries + 1


async def test_client_errors_are_never_retried(flaky_server: tuple[Flaky, str]) -> None:
    flaky, root_url = flaky_server
    flaky.statuses = [404, 500]
    async with Queue(Options(root_url, retry=FAST)) as client:
        with pytest.raises(ResourceNotFound):
            await client.ping()
    assert flaky.requests == 1


async def test_unreachable_server_is_retried_then_a_transport_error() -> None:
    app_runner = web.AppRunner(web.Application())  # a port that was just closed
    await app_runner.setup()
    await web.TCPSite(app_runner, "127.0.0.1", 0).start()
    port = app_runner.addresses[0][1]
    await app_runner.cleanup()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with Queue(Options(f"http://127.0.0.1:{port}", retry=FAST), sleep=sleep) as client:
        with pytest.raises(TransportError) as failed:
            await client.ping()
    assert failed.value.attempts == FAST.max_retries + 1
    assert len(waits) == FAST.max_retries
