"""Each store against its real database (a SQLite file; a PostgreSQL schema of its own): its
invariants and the cost of resolving dependencies, counted in SQL statements (not timed)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from clients.protocol.errors import ApiError
from clients.protocol.ids import new_slugid
from clients.protocol.states import ReasonResolved, RunState
from clients.protocol.tasks import CreateTaskRequest, RunInfo, Task
from clients.protocol.times import format_ms
from queue_server.bus import Bus
from queue_server.core.taskdef import normalize_task
from queue_server.store.db import Db, scalar
from queue_server.store.postgres import PostgresStore
from queue_server.store.sql import TOUCH_INTERVAL_MS
from queue_server.store.sqlite import SQLiteStore

NOW = 1_700_000_000_000
HOUR = 3_600_000


Store = SQLiteStore | PostgresStore


@pytest.fixture
async def store(tmp_path: Path, database_url: str | None) -> AsyncIterator[Store]:
    opened: Store
    if database_url is None:
        opened = await SQLiteStore.open(tmp_path / "q.sqlite3", Bus())
    else:
        opened = await PostgresStore.open(database_url, Bus(), pool_size=2)
    yield opened
    await opened.close()


def definition(
    task_id: str,
    dependencies: list[str] = (),
    requires: str = "all-completed",
    group: str | None = None,
) -> tuple[Task, int, int]:  # type: ignore[assignment]
    body: dict[str, Any] = {
        "taskQueueId": "p/w",
        "created": "2023-11-14T22:13:20.000Z",
        "deadline": "2023-11-14T23:13:20.000Z",
        "dependencies": list(dependencies),
        "requires": requires,
        "payload": {},
        "metadata": {"name": "n", "description": "d", "owner": "o", "source": "https://x"},
    }
    if group:
        body["taskGroupId"] = group
    request = msgspec.json.decode(msgspec.json.encode(body), type=CreateTaskRequest)
    task, times = normalize_task(task_id, request, now_ms=NOW, max_deadline_ms=5 * 24 * HOUR)
    return task, times.deadline, times.expires


async def create(store: Store, task_id: str, **kwargs: Any) -> None:
    task, deadline, expires = definition(task_id, **kwargs)
    await store.create_task(task_id, task, deadline, expires, NOW)


async def check_invariants(db: Db) -> None:
    runs = msgspec.json.Decoder(list[RunInfo])
    pending_rows = {r[0]: r[1] for r in await db.all("SELECT task_id, run_id FROM pending")}
    claim_rows = {r[0]: r[1] for r in await db.all("SELECT task_id, run_id FROM claims")}
    for task_id, raw, state, unresolved in await db.all(
        "SELECT task_id, runs, state, unresolved_deps FROM tasks"
    ):
        last = runs.decode(raw)[-1] if runs.decode(raw) else None
        is_pending = last is not None and last.state is RunState.pending
        is_running = last is not None and last.state is RunState.running
        assert (task_id in pending_rows) == is_pending, task_id
        assert (task_id in claim_rows) == is_running, task_id
        if is_pending:
            assert pending_rows[task_id] == last.run_id  # type: ignore[union-attr]
        assert state == (last.state.value if last else "unscheduled")
        open_edges = await scalar(
            db,
            "SELECT count(*) FROM dependencies WHERE dependent_task_id = ? AND satisfied = 0",
            (task_id,),
        )
        assert unresolved == open_edges, task_id
    for group_id, active in await db.all("SELECT task_group_id, active FROM task_groups"):
        counted = await scalar(
            db,
            "SELECT count(*) FROM tasks WHERE task_group_id = ? AND state IN ('unscheduled','pending','running')",
            (group_id,),
        )
        assert active == counted, group_id


async def test_invariants_hold_through_random_operations(store: Store) -> None:
    rng = random.Random(7)
    group = new_slugid()
    ids: list[str] = []
    for step in range(400):
        choice = rng.random()
        try:
            if choice < 0.35 or not ids:
                task_id = new_slugid()
                deps = rng.sample(ids, k=min(len(ids), rng.randint(0, 3)))
                await create(
                    store,
                    task_id,
                    dependencies=deps,
                    requires=rng.choice(["all-completed", "all-resolved"]),
                    group=group,
                )
                ids.append(task_id)
            elif choice < 0.55:
                await store.claim_work("p/w", "g", "w", rng.randint(1, 4), NOW, NOW + HOUR)
            elif choice < 0.8:
                claimed = await store._read(
                    lambda db: db.all("SELECT task_id, run_id FROM claims ORDER BY task_id")
                )
                if claimed:
                    task_id, run_id = rng.choice(claimed)
                    state, reason = rng.choice(
                        [
                            (RunState.completed, ReasonResolved.completed),
                            (RunState.failed, ReasonResolved.failed),
                            (RunState.exception, ReasonResolved.worker_shutdown),
                            (RunState.exception, ReasonResolved.malformed_payload),
                        ]
                    )
                    await store.resolve_run(task_id, run_id, state, reason, NOW)
            elif choice < 0.88:
                await store.cancel_task(rng.choice(ids), NOW)
            elif choice < 0.95:
                await store.rerun_task(rng.choice(ids), NOW)
            else:
                await store.resolve_due(NOW + 2 * HOUR if step % 50 == 0 else NOW, 100)
        except ApiError as error:
            if error.status != 409:  # only conflicts are expected from random moves
                raise
        await store._read(check_invariants)


async def count_statements(store: Store, work: Any) -> int:
    before = store.statements
    await work()
    return store.statements - before


async def resolve(store: Store, task_id: str) -> None:
    claims = await store.claim_work("p/w", "g", "w", 1, NOW, NOW + HOUR)
    assert [c.status.task_id for c in claims] == [task_id]
    await store.resolve_run(task_id, 0, RunState.completed, ReasonResolved.completed, NOW)


@pytest.mark.parametrize("fan_out", [100, 1000])
async def test_resolving_a_task_costs_statements_in_proportion_to_its_dependents(
    store: Store, fan_out: int
) -> None:
    root = new_slugid()
    await create(store, root)
    dependents = [new_slugid() for _ in range(fan_out)]
    for task_id in dependents:
        await create(store, task_id, dependencies=[root])
    statements = await count_statements(store, lambda: resolve(store, root))
    per_edge = statements / fan_out
    assert 3 <= per_edge <= 12, per_edge
    counts = await store.counts(["p/w"])
    assert counts[0].pending_tasks == fan_out


async def test_the_last_of_many_dependencies_costs_the_same_as_the_first(
    store: Store,
) -> None:
    required = [new_slugid() for _ in range(1000)]
    for task_id in required:
        await create(store, task_id)
    dependent = new_slugid()
    await create(store, dependent, dependencies=required)
    first = await count_statements(store, lambda: resolve(store, required[0]))
    for task_id in required[1:-1]:
        await resolve(store, task_id)
    assert (await store.get_record(dependent)).status.state == "unscheduled"  # type: ignore[union-attr]
    last = await count_statements(store, lambda: resolve(store, required[-1]))
    assert (await store.get_record(dependent)).status.state == "pending"  # type: ignore[union-attr]
    assert last <= first + 10, (first, last)


async def test_expired_tasks_and_their_rows_are_swept(store: Store) -> None:
    required, dependent = new_slugid(), new_slugid()
    await create(store, required)
    await create(store, dependent, dependencies=[required])
    await store.claim_work("p/w", "g", "w", 1, NOW, NOW + HOUR)
    _, _, expires = definition(required)
    assert await store.expire(expires - 1, 100) == 0
    assert await store.expire(expires + 1, 100) == 0  # unresolved tasks wait for their resolver
    await store.resolve_due(expires + 1, 100)
    assert await store.expire(expires + 1, 100) == 2
    assert await store.get_record(required) is None
    leftovers = [
        await store._read(lambda db, t=table: scalar(db, f"SELECT count(*) FROM {t}"))
        for table in ("pending", "claims", "dependencies", "tasks")
    ]
    assert leftovers == [0, 0, 0, 0]


async def test_claim_work_resolves_runs_past_their_deadline_and_claims_the_next(
    store: Store,
) -> None:
    doomed = new_slugid()
    await create(store, doomed)
    _, deadline, _ = definition(doomed)
    live = new_slugid()
    task, _, expires = definition(live)
    later = deadline + HOUR
    task.deadline = "2023-11-15T00:13:20.000Z"
    await store.create_task(live, task, later + HOUR, expires + 2 * HOUR, NOW)
    claimed = await store.claim_work("p/w", "g", "w", 1, later, later + HOUR)
    assert [c.status.task_id for c in claimed] == [live]
    status = (await store.get_record(doomed)).status  # type: ignore[union-attr]
    assert status.runs[0].reason_resolved == "deadline-exceeded"


async def test_a_worker_seen_again_within_the_touch_interval_is_not_written_again(
    store: Store,
) -> None:
    """claimWork's sighting is written at most once per TOUCH_INTERVAL_MS by one process; a
    quarantine set through this store applies to the next sighting at once."""
    touch = lambda now: store.touch_worker("p/w", "g", "w", now)  # noqa: E731
    assert await count_statements(store, lambda: touch(NOW)) == 2
    assert await count_statements(store, lambda: touch(NOW + TOUCH_INTERVAL_MS - 1)) == 0
    assert await count_statements(store, lambda: touch(NOW + TOUCH_INTERVAL_MS)) == 2
    seen = await store.get_worker("p/w", "g", "w", NOW + TOUCH_INTERVAL_MS)
    assert seen is not None and seen.last_date_active == format_ms(NOW + TOUCH_INTERVAL_MS)
    assert await store.quarantine_worker("p/w", "g", "w", NOW + HOUR, {}, NOW)
    assert await touch(NOW + TOUCH_INTERVAL_MS + 1) == NOW + HOUR
    assert await count_statements(store, lambda: touch(NOW + TOUCH_INTERVAL_MS + 2)) == 0
    assert await store.quarantine_worker("p/w", "g", "w", NOW, {}, NOW)  # lifted
    assert await touch(NOW + TOUCH_INTERVAL_MS + 3) is None
