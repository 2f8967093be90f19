"""Read-only queries: listings with keyset pagination, counts, task queues and workers."""

from __future__ import annotations

from typing import Any

import msgspec

from clients.protocol import queues as q
from clients.protocol.ids import split_task_queue_id
from clients.protocol.tasks import TaskAndStatus
from clients.protocol.times import format_ms

from ..core.pages import Page, encode_token
from .db import Db, Row, scalar
from .records import RECORD_COLUMNS, record_columns, record_of_row

__all__ = [
    "counts",
    "get_worker",
    "list_claimed",
    "list_dependents",
    "list_pending",
    "list_task_group",
    "list_task_queues",
    "list_workers",
    "records",
]

Rows = list[Row]
_decode_list = msgspec.json.Decoder(list[Any]).decode


def page_rows(rows: Rows, page: Page, key_width: int = 1) -> tuple[Rows, str | None]:
    """Rows were fetched with limit + 1: the extra row means there is more to come."""
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_token(list(rows[-1][:key_width]))


async def records(db: Db, task_ids: list[str]) -> list[TaskAndStatus]:
    """Tasks by id, in the order given; unknown ids are skipped."""
    found = []
    for task_id in task_ids:
        row = await db.one(f"SELECT {RECORD_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,))
        if row is not None:
            record = record_of_row(row)
            found.append(TaskAndStatus(task=record.task, status=record.status()))
    return found


async def list_task_group(
    db: Db, task_group_id: str, page: Page
) -> tuple[list[TaskAndStatus], str | None]:
    (after,) = page.key(("",))
    rows = await db.all(
        f"SELECT task_id, {RECORD_COLUMNS} FROM tasks WHERE task_group_id = ? AND task_id > ?"
        " ORDER BY task_id LIMIT ?",
        (task_group_id, after, page.limit + 1),
    )
    rows, token = page_rows(rows, page)
    return [_task_and_status(row[1:]) for row in rows], token


async def list_dependents(
    db: Db, task_id: str, page: Page
) -> tuple[list[TaskAndStatus], str | None]:
    (after,) = page.key(("",))
    rows = await db.all(
        f"SELECT d.dependent_task_id, {record_columns('t')}"
        " FROM dependencies d JOIN tasks t ON t.task_id = d.dependent_task_id"
        " WHERE d.required_task_id = ? AND d.dependent_task_id > ? AND d.dependent_task_id != ?"
        " ORDER BY d.dependent_task_id LIMIT ?",
        (task_id, after, task_id, page.limit + 1),
    )
    rows, token = page_rows(rows, page)
    return [_task_and_status(row[1:]) for row in rows], token


def _task_and_status(row: tuple[Any, ...]) -> TaskAndStatus:
    record = record_of_row(row)
    return TaskAndStatus(task=record.task, status=record.status())


async def counts(db: Db, task_queue_id: str) -> q.TaskQueueCounts:
    prov, wtype = split_task_queue_id(task_queue_id) or ("", "")
    pending = await scalar(
        db, "SELECT count(*) FROM pending WHERE task_queue_id = ?", (task_queue_id,)
    )
    claimed = await scalar(
        db, "SELECT count(*) FROM claims WHERE task_queue_id = ?", (task_queue_id,)
    )
    return q.TaskQueueCounts(
        provisioner_id=prov,
        worker_type=wtype,
        task_queue_id=task_queue_id,
        pending_tasks=pending,
        claimed_tasks=claimed,
    )


async def list_pending(
    db: Db, task_queue_id: str, page: Page
) -> tuple[list[q.PendingTaskItem], str | None]:
    priority, seq = page.key((99, -1))
    rows = await db.all(
        "SELECT p.priority, p.seq, p.task_id, p.run_id, p.inserted, t.definition"
        " FROM pending p JOIN tasks t ON t.task_id = p.task_id WHERE p.task_queue_id = ?"
        " AND (p.priority < ? OR (p.priority = ? AND p.seq > ?))"
        " ORDER BY p.priority DESC, p.seq LIMIT ?",
        (task_queue_id, priority, priority, seq, page.limit + 1),
    )
    rows, token = page_rows(rows, page, 2)
    items = [
        q.PendingTaskItem(
            task_id=r[2], run_id=r[3], inserted=format_ms(r[4]), task=msgspec.json.decode(r[5])
        )
        for r in rows
    ]
    return items, token


async def list_claimed(
    db: Db, task_queue_id: str, page: Page
) -> tuple[list[q.ClaimedTaskItem], str | None]:
    claimed, task_id = page.key((-1, ""))
    rows = await db.all(
        "SELECT c.claimed, c.task_id, c.run_id, c.worker_group, c.worker_id, t.definition"
        " FROM claims c JOIN tasks t ON t.task_id = c.task_id WHERE c.task_queue_id = ?"
        " AND (c.claimed > ? OR (c.claimed = ? AND c.task_id > ?))"
        " ORDER BY c.claimed, c.task_id LIMIT ?",
        (task_queue_id, claimed, claimed, task_id, page.limit + 1),
    )
    rows, token = page_rows(rows, page, 2)
    items = [
        q.ClaimedTaskItem(
            task_id=r[1],
            run_id=r[2],
            worker_group=r[3],
            worker_id=r[4],
            claimed=format_ms(r[0]),
            task=msgspec.json.decode(r[5]),
        )
        for r in rows
    ]
    return items, token


async def list_task_queues(db: Db, prefix: str, page: Page, now_ms: int) -> tuple[Rows, str | None]:
    """Rows of (task_queue_id, expires, last_date_active, description, stability)."""
    (after,) = page.key(("",))
    rows = await db.all(
        "SELECT task_queue_id, expires, last_date_active, description, stability FROM task_queues"
        " WHERE task_queue_id > ? AND task_queue_id >= ? AND task_queue_id < ? AND expires > ?"
        " ORDER BY task_queue_id LIMIT ?",
        (after, prefix, prefix + "\U0010ffff", now_ms, page.limit + 1),
    )
    return page_rows(rows, page)


async def task_queue(db: Db, task_queue_id: str, now_ms: int) -> q.TaskQueue | None:
    row = await db.one(
        "SELECT task_queue_id, expires, last_date_active, description, stability FROM task_queues"
        " WHERE task_queue_id = ? AND expires > ?",
        (task_queue_id, now_ms),
    )
    return None if row is None else task_queue_of_row(row)


def task_queue_of_row(row: tuple[Any, ...]) -> q.TaskQueue:
    return q.TaskQueue(
        task_queue_id=row[0],
        expires=format_ms(row[1]),
        last_date_active=format_ms(row[2]),
        description=row[3],
        stability=row[4],
    )


_WORKER_COLUMNS = (
    "worker_group, worker_id, first_claim, last_date_active, expires, quarantine_until,"
    " quarantine_details, recent_tasks, host"
)


async def list_workers(
    db: Db, task_queue_id: str, quarantined: bool | None, page: Page, now_ms: int
) -> tuple[list[q.WorkerListItem], str | None]:
    group, worker = page.key(("", ""))
    condition, extra = "", ()  # type: tuple[str, tuple[int, ...]]
    if quarantined is True:
        condition, extra = " AND quarantine_until > ?", (now_ms,)
    elif quarantined is False:
        condition, extra = " AND (quarantine_until IS NULL OR quarantine_until <= ?)", (now_ms,)
    rows = await db.all(
        f"SELECT {_WORKER_COLUMNS} FROM workers WHERE task_queue_id = ?"
        " AND (worker_group > ? OR (worker_group = ? AND worker_id > ?))"
        f" AND expires > ?{condition} ORDER BY worker_group, worker_id LIMIT ?",
        (task_queue_id, group, group, worker, now_ms, *extra, page.limit + 1),
    )
    rows, token = page_rows(rows, page, 2)
    items = []
    for row in rows:
        item = q.WorkerListItem(
            worker_group=row[0],
            worker_id=row[1],
            first_claim=format_ms(row[2]),
            last_date_active=format_ms(row[3]),
        )
        recent = _decode_list(row[7])
        if recent:
            item.latest_task = q.LatestTask(
                task_id=recent[-1]["taskId"], run_id=recent[-1]["runId"]
            )
        if row[5] is not None and row[5] > now_ms:
            item.quarantine_until = format_ms(row[5])
        items.append(item)
    return items, token


async def get_worker(
    db: Db, task_queue_id: str, worker_group: str, worker_id: str, now_ms: int
) -> q.WorkerResponse | None:
    row = await db.one(
        f"SELECT {_WORKER_COLUMNS} FROM workers WHERE task_queue_id = ? AND worker_group = ?"
        " AND worker_id = ? AND expires > ?",
        (task_queue_id, worker_group, worker_id, now_ms),
    )
    if row is None:
        return None
    prov, wtype = split_task_queue_id(task_queue_id) or ("", "")
    worker = q.WorkerResponse(
        provisioner_id=prov,
        worker_type=wtype,
        task_queue_id=task_queue_id,
        worker_group=row[0],
        worker_id=row[1],
        expires=format_ms(row[4]),
        first_claim=format_ms(row[2]),
        last_date_active=format_ms(row[3]),
        recent_tasks=[
            q.LatestTask(task_id=t["taskId"], run_id=t["runId"]) for t in _decode_list(row[7])
        ],
        quarantine_details=msgspec.convert(_decode_list(row[6]), list[q.QuarantineDetail]),
    )
    if row[5] is not None and row[5] > now_ms:
        worker.quarantine_until = format_ms(row[5])
    if row[8] is not None:
        worker.host = msgspec.json.decode(row[8], type=q.WorkerHost)
    return worker


async def list_provisioners(db: Db, page: Page, now_ms: int) -> tuple[Rows, str | None]:
    """Rows of (provisioner_id, expires, last_date_active), derived from the task queues."""
    (after,) = page.key(("",))
    rows = await db.all(
        "SELECT provisioner, max(expires), max(last_date_active) FROM"
        f" (SELECT substr(task_queue_id, 1, {db.dialect.strpos}(task_queue_id, '/') - 1)"
        " AS provisioner, expires, last_date_active FROM task_queues WHERE expires > ?) AS q"
        " WHERE provisioner > ? GROUP BY provisioner ORDER BY provisioner LIMIT ?",
        (now_ms, after, page.limit + 1),
    )
    return page_rows(rows, page)
