"""The Worker-Manager v1 API of the provisioner against a real queue (protocol.md §16):
pools, static workers, registration, removal. The loop's scaling runs in tests/e2e."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import taskcluster

from clients import hawk
from clients.client import (
    AuthenticationFailed,
    InputError,
    InsufficientScopes,
    Options,
    Queue,
    RequestConflict,
    ResourceNotFound,
)
from clients.client.errors import ApiCallError
from clients.protocol.ids import new_slugid
from clients.protocol.times import format_ms, parse_time
from clients.protocol.worker_manager import RegisterWorkerResponse, WorkerState
from provisioner.fleet import hash_secret
from provisioner.settings import Settings
from provisioner.store import WorkerRow
from tests.conftest import RunningQueue
from tests.helpers import task_definition
from tests.provisioning import ROOT, RunningProvisioner, running_provisioner, static_secret

POOL = "wm-test/static"
PROCESS_POOL = "wm-test/process"


def _later(days: float = 1) -> str:
    return format_ms(int((dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).timestamp() * 1000))


def _pool(provider: str = "static", config: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "providerId": provider,
        "description": "made by a test",
        "owner": "tests@example.com",
        "emailOnError": False,
        "config": {} if config is None else config,
    }


@pytest.fixture
async def provisioner(queue: RunningQueue, tmp_path: Path) -> Any:
    async with running_provisioner(queue, tmp_path / "provisioner") as running:
        yield running


async def _static_worker(p: RunningProvisioner, worker_id: str = "m1", capacity: int = 1) -> str:
    secret = static_secret()
    async with p.manager() as manager:
        await manager.create_worker_pool(POOL, _pool("static", {"workerConfig": {"capacity": 3}}))
        await manager.create_worker(
            POOL,
            "desk",
            worker_id,
            {"expires": _later(), "capacity": capacity, "providerInfo": {"staticSecret": secret}},
        )
    return secret


def _credentials(answer: RegisterWorkerResponse) -> hawk.Credentials:
    given = answer.credentials
    return hawk.Credentials(given.client_id, given.access_token, str(given.certificate))


def _register(
    worker_id: str, secret: str, provider: str = "static", pool: str = POOL
) -> dict[str, Any]:
    return {
        "workerPoolId": pool,
        "providerId": provider,
        "workerGroup": "desk",
        "workerId": worker_id,
        "workerIdentityProof": {"staticSecret": secret},
    }


async def test_the_official_client_creates_reads_lists_updates_and_deletes_pools(
    provisioner: RunningProvisioner,
) -> None:
    options = {
        "rootUrl": provisioner.root_url,
        "credentials": {"clientId": "root", "accessToken": ROOT.access_token},
    }
    official = taskcluster.WorkerManager(options)
    config = {"minCapacity": 0, "maxCapacity": 4}
    created = await asyncio.to_thread(
        official.createWorkerPool, PROCESS_POOL, _pool("process", config)
    )
    assert created["workerPoolId"] == PROCESS_POOL
    assert created["config"] == config  # as given, so it can be edited and sent back
    assert (created["currentCapacity"], created["runningCount"]) == (0, 0)
    got = await asyncio.to_thread(official.workerPool, PROCESS_POOL)
    got["config"]["maxCapacity"] = 6
    got["description"] = "bigger"
    updated = await asyncio.to_thread(official.updateWorkerPool, PROCESS_POOL, got)
    assert (updated["config"]["maxCapacity"], updated["created"]) == (6, created["created"])
    listed = await asyncio.to_thread(official.listWorkerPools)
    assert [p["workerPoolId"] for p in listed["workerPools"]] == [PROCESS_POOL]
    deleted = await asyncio.to_thread(official.deleteWorkerPool, PROCESS_POOL)
    assert deleted["providerId"] == "null-provider"
    await provisioner.loop.run_once()  # no worker is live: the pool goes
    with pytest.raises(taskcluster.TaskclusterRestFailure) as missing:
        await asyncio.to_thread(official.workerPool, PROCESS_POOL)
    assert missing.value.status_code == 404


async def test_create_is_idempotent_and_a_different_definition_conflicts(
    provisioner: RunningProvisioner,
) -> None:
    async with provisioner.manager() as manager:
        first = await manager.create_worker_pool(POOL, _pool())
        again = await manager.create_worker_pool(POOL, _pool())
        assert again.created == first.created
        with pytest.raises(RequestConflict, match="already exists"):
            await manager.create_worker_pool(POOL, {**_pool(), "description": "other"})
        with pytest.raises(ResourceNotFound):
            await manager.update_worker_pool("wm-test/nothing", _pool())
        with pytest.raises(InputError, match="does not match the URL"):
            await manager.update_worker_pool(POOL, {**_pool(), "workerPoolId": "wm-test/other"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_pool("nowhere"), "Invalid Provider"),
        (_pool("process", {"minCapacity": 0}), r"maxCapacity. - at .\$\.config"),
        (_pool("process", {"minCapacity": 3, "maxCapacity": 2}), "minCapacity must not exceed"),
        (
            _pool("process", {"minCapacity": 0, "maxCapacity": 2, "scalingRatio": 2}),
            r"\$\.config\.scalingRatio",
        ),
        (_pool("static", {"minCapacity": 1}), r"unknown field `minCapacity`"),
        (
            _pool(
                "process", {"minCapacity": 0, "maxCapacity": 2, "launchConfigs": [{"comand": []}]}
            ),
            r"\$\.config\.launchConfigs\[0\]",
        ),
        ({**_pool(), "extra": 1}, "extra"),
    ],
    ids=[
        "provider",
        "missing-max",
        "min-above-max",
        "ratio",
        "static-fields",
        "launch-typo",
        "body",
    ],
)
async def test_bad_pools_are_refused_with_400_naming_the_field(
    provisioner: RunningProvisioner, body: dict[str, Any], message: str
) -> None:
    async with provisioner.manager() as manager:
        with pytest.raises(ApiCallError, match=message) as refused:
            await manager.create_worker_pool(PROCESS_POOL, body)
        assert refused.value.status == 400
        with pytest.raises(ResourceNotFound):
            await manager.worker_pool(PROCESS_POOL)


async def test_every_call_checks_its_scopes_through_the_queue(
    provisioner: RunningProvisioner,
) -> None:
    async with provisioner.manager(None) as anonymous:
        with pytest.raises(
            InsufficientScopes, match="worker-manager:manage-worker-pool:wm-test/static"
        ):
            await anonymous.create_worker_pool(POOL, _pool())
        with pytest.raises(InsufficientScopes, match="worker-manager:list-worker-pools"):
            await anonymous.list_worker_pools()
        assert (await anonymous.ping()).alive
    forged = hawk.Credentials("root", "not-the-token")
    async with provisioner.manager(forged) as forger:
        with pytest.raises(AuthenticationFailed):
            await forger.list_worker_pools()


async def test_a_static_worker_registers_and_its_credentials_claim_from_its_queue_only(
    provisioner: RunningProvisioner, queue: RunningQueue
) -> None:
    secret = await _static_worker(provisioner, capacity=2)
    async with provisioner.manager(None) as anonymous:
        with pytest.raises(InputError, match="bad staticSecret"):
            await anonymous.register_worker(_register("m1", static_secret()))
        answer = await anonymous.register_worker(_register("m1", secret))
    assert answer.worker_config == {"capacity": 3}
    assert answer.credentials.client_id == f"worker/static/{POOL}/desk/m1"
    assert parse_time(answer.expires) > parse_time(_later(3.9))  # reregistrationTimeout: 4 days
    assert len(answer.secret) == 44
    creds = _credentials(answer)
    task_id = new_slugid()
    async with provisioner.queue() as root_queue:
        await root_queue.create_task(task_id, task_definition(POOL))
    async with Queue(Options(queue.root_url, creds)) as worker_queue:
        claimed = await worker_queue.claim_work(POOL, worker_group="desk", worker_id="m1", tasks=1)
        assert [c.status.task_id for c in claimed.tasks] == [task_id]
        with pytest.raises(InsufficientScopes):
            await worker_queue.claim_work("wm-test/other", worker_group="desk", worker_id="m1")
        with pytest.raises(InsufficientScopes):
            await worker_queue.claim_work(POOL, worker_group="desk", worker_id="m2")
    async with provisioner.manager(None) as anonymous:  # static workers may register again
        assert (await anonymous.register_worker(_register("m1", secret))).secret != answer.secret


async def test_reregistration_trades_each_secret_once_for_new_credentials(
    provisioner: RunningProvisioner,
) -> None:
    secret = await _static_worker(provisioner)
    async with provisioner.manager(None) as anonymous:
        first = await anonymous.register_worker(_register("m1", secret))
    creds = _credentials(first)
    body = {"workerPoolId": POOL, "workerGroup": "desk", "workerId": "m1", "secret": first.secret}
    async with provisioner.manager(creds) as worker:
        second = await worker.reregister_worker(body)
        assert second.secret != first.secret
        with pytest.raises(InputError, match="Could not generate credentials"):
            await worker.reregister_worker(body)  # the old secret is spent
        assert (await worker.should_worker_terminate(POOL, "desk", "m1")).terminate is False
        with pytest.raises(InsufficientScopes):
            await worker.should_worker_terminate(POOL, "desk", "m2")
    async with provisioner.manager(None) as anonymous:
        with pytest.raises(InsufficientScopes, match="reregister-worker"):
            await anonymous.reregister_worker({**body, "secret": second.secret})


async def test_a_launched_workers_one_time_secret_registers_it_once(
    provisioner: RunningProvisioner,
) -> None:
    async with provisioner.manager() as manager:
        await manager.create_worker_pool(
            PROCESS_POOL, _pool("process", {"minCapacity": 0, "maxCapacity": 1})
        )
    secret = static_secret()
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    row = WorkerRow(
        worker_pool_id=PROCESS_POOL, worker_group="desk", worker_id="i-1", provider_id="process",
        launch_config_id=None, state=WorkerState.requested, capacity=2, created_ms=now,
        expires_ms=now + 3_600_000, last_modified_ms=now, last_checked_ms=now,
        secret_hash=hash_secret(secret), one_time=True,
    )  # fmt: skip
    await provisioner.store.insert_worker(row)
    request = _register("i-1", secret, "process", PROCESS_POOL)
    async with provisioner.manager(None) as anonymous:
        with pytest.raises(InputError):
            await anonymous.register_worker({**request, "providerId": "static"})  # not its provider
        answer = await anonymous.register_worker(request)
        assert answer.worker_config == {"engine": "process", "capacity": 2}
        with pytest.raises(InputError, match="bad staticSecret"):
            await anonymous.register_worker(request)
    async with provisioner.manager() as manager:
        worker = await manager.worker(PROCESS_POOL, "desk", "i-1")
    assert worker.state == WorkerState.running


async def test_removing_a_static_worker_quarantines_it_and_retries_its_run_at_once(
    provisioner: RunningProvisioner, queue: RunningQueue
) -> None:
    secret = await _static_worker(provisioner)
    async with provisioner.manager(None) as anonymous:
        answer = await anonymous.register_worker(_register("m1", secret))
    creds = _credentials(answer)
    task_id = new_slugid()
    async with provisioner.queue() as root_queue:
        await root_queue.create_task(task_id, task_definition(POOL))
        async with Queue(Options(queue.root_url, creds)) as worker_queue:
            claimed = await worker_queue.claim_work(POOL, worker_group="desk", worker_id="m1")
        assert len(claimed.tasks) == 1
        async with provisioner.manager() as manager:
            assert await manager.remove_worker(POOL, "desk", "m1") is not None
            status = (await root_queue.status(task_id)).status
            assert [(r.state, r.reason_resolved) for r in status.runs[:1]] == [
                ("exception", "worker-shutdown")
            ]
            assert status.runs[1].state == "pending"  # retried now, not at claim expiry
            told = await manager.should_worker_terminate(POOL, "desk", "m1")
            assert told.terminate
            assert (await manager.worker(POOL, "desk", "m1")).state == WorkerState.stopped
        record = await root_queue.get_worker("wm-test", "static", "desk", "m1")
        assert isinstance(record.quarantine_until, str)
        assert parse_time(record.quarantine_until) > parse_time(_later(0.5))


async def test_create_worker_is_only_for_static_pools_and_needs_a_secret(
    provisioner: RunningProvisioner,
) -> None:
    async with provisioner.manager() as manager:
        await manager.create_worker_pool(
            PROCESS_POOL, _pool("process", {"minCapacity": 0, "maxCapacity": 1})
        )
        body = {"expires": _later(), "providerInfo": {"staticSecret": static_secret()}}
        with pytest.raises(InputError, match="not supported for this provider"):
            await manager.create_worker(PROCESS_POOL, "desk", "m1", body)
        await manager.create_worker_pool(POOL, _pool())
        with pytest.raises(InputError, match="staticSecret"):
            await manager.create_worker(POOL, "desk", "m1", {"expires": _later()})
        with pytest.raises(InputError, match="future"):
            await manager.create_worker(POOL, "desk", "m1", {**body, "expires": _later(-1)})
        made = await manager.create_worker(POOL, "desk", "m1", body)
        assert (made.state, made.capacity) == (WorkerState.running, 1)
        with pytest.raises(RequestConflict):
            await manager.create_worker(POOL, "desk", "m1", body)
        listed = await manager.list_workers_for_worker_pool(POOL, state="running")
        assert [w.worker_id for w in listed.workers] == ["m1"]
        with pytest.raises(ApiCallError, match="state"):
            await manager.list_workers_for_worker_pool(POOL, state="sleeping")


async def test_listings_page_with_continuation_tokens(provisioner: RunningProvisioner) -> None:
    async with provisioner.manager() as manager:
        ids = [f"wm-page/p{n}" for n in range(5)]
        for pool_id in ids:
            await manager.create_worker_pool(pool_id, _pool())
        first = await manager.list_worker_pools(limit=2)
        assert [p.worker_pool_id for p in first.worker_pools] == ids[:2]
        assert [p.worker_pool_id async for p in manager.iter_list_worker_pools(limit=2)] == ids


async def test_pools_come_from_a_file_at_start_and_a_bad_file_stops_the_start(
    queue: RunningQueue, tmp_path: Path
) -> None:
    pools_file = tmp_path / "pools.yml"
    pools_file.write_text(
        f"{PROCESS_POOL}:\n  providerId: process\n  config: {{minCapacity: 0, maxCapacity: 3}}\n"
        f"{POOL}:\n  providerId: static\n  config: {{}}\n"
    )
    async with running_provisioner(queue, tmp_path / "p", pools_file=pools_file) as running:
        manager = running.manager()
        pools = [p async for p in manager.iter_list_worker_pools()]
        await manager.close()
    assert [(p.worker_pool_id, p.provider_id) for p in pools] == [
        (PROCESS_POOL, "process"),
        (POOL, "static"),
    ]
    pools_file.write_text(f"{PROCESS_POOL}:\n  providerId: process\n  config: {{minCapacity: 0}}\n")
    with pytest.raises(Exception, match=r"wm-test/process.*maxCapacity"):
        async with running_provisioner(queue, tmp_path / "p", pools_file=pools_file):
            pass


def test_the_provisioner_refuses_temporary_credentials_of_its_own() -> None:
    from provisioner.settings import SettingsError, parse_settings

    env = {
        "TASKCLUSTER_ROOT_URL": "http://127.0.0.1:1",
        "TASKCLUSTER_CLIENT_ID": "me",
        "TASKCLUSTER_ACCESS_TOKEN": "t",
        "TASKCLUSTER_CERTIFICATE": "{}",
    }
    with pytest.raises(SettingsError, match="permanent"):
        parse_settings([], env)
    settings = parse_settings(
        ["--provider", "mine=static", "--interval", "2"], {**env, "TASKCLUSTER_CERTIFICATE": ""}
    )
    assert isinstance(settings, Settings)
    assert (settings.providers, settings.interval_s) == ((("mine", "static"),), 2.0)
