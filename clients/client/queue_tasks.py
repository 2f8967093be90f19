"""Queue calls about tasks, task groups, claims and reports (protocol.md, "Endpoints")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from ..protocol import tasks as t
from ..protocol.states import Priority
from .service import Body, ServiceClient

__all__ = ["TaskCalls"]


class TaskCalls(ServiceClient):
    """Tasks, groups, claims and reports; mixed into ``Queue``."""

    # -- tasks ---------------------------------------------------------------------------------
    async def create_task(
        self, task_id: str, task: t.CreateTaskRequest | Body
    ) -> t.TaskStatusResponse:
        """Create a task (idempotent for an identical definition); its status after creation."""
        return await self._call("createTask", t.TaskStatusResponse, {"taskId": task_id}, task)

    async def task(self, task_id: str) -> t.Task:
        """The task's definition with every default filled in."""
        return await self._call("task", t.Task, {"taskId": task_id})

    async def status(self, task_id: str) -> t.TaskStatusResponse:
        """The task's status: its state and every run."""
        return await self._call("status", t.TaskStatusResponse, {"taskId": task_id})

    async def tasks(
        self,
        task_ids: Sequence[str],
        *,
        continuation_token: str | None = None,
        limit: int | None = None,
    ) -> t.TasksResponse:
        """One page of the definitions of several tasks (unknown ids are left out)."""
        body = t.TaskIdsRequest(task_ids=list(task_ids))
        query = {"continuationToken": continuation_token, "limit": limit}
        return await self._call("tasks", t.TasksResponse, {}, body, query)

    def iter_tasks(
        self, task_ids: Sequence[str], *, limit: int | None = None
    ) -> AsyncIterator[t.TaskWithId]:
        """Every definition of ``tasks``, page after page."""
        return self._paginate(
            lambda token: self.tasks(task_ids, continuation_token=token, limit=limit),
            lambda page: page.tasks,
        )

    async def statuses(
        self,
        task_ids: Sequence[str],
        *,
        continuation_token: str | None = None,
        limit: int | None = None,
    ) -> t.TaskStatusesResponse:
        """One page of the statuses of several tasks (unknown ids are left out)."""
        body = t.TaskIdsRequest(task_ids=list(task_ids))
        query = {"continuationToken": continuation_token, "limit": limit}
        return await self._call("statuses", t.TaskStatusesResponse, {}, body, query)

    def iter_statuses(
        self, task_ids: Sequence[str], *, limit: int | None = None
    ) -> AsyncIterator[t.StatusWithId]:
        """Every status of ``statuses``, page after page."""
        return self._paginate(
            lambda token: self.statuses(task_ids, continuation_token=token, limit=limit),
            lambda page: page.statuses,
        )

    async def schedule_task(self, task_id: str) -> t.TaskStatusResponse:
        """Make an unscheduled task pending now, whatever its dependencies."""
        return await self._call("scheduleTask", t.TaskStatusResponse, {"taskId": task_id})

    async def rerun_task(self, task_id: str) -> t.TaskStatusResponse:
        """Add a pending run to a resolved task."""
        return await self._call("rerunTask", t.TaskStatusResponse, {"taskId": task_id})

    async def rerun_subtree(self, task_id: str) -> t.RerunSubtreeResponse:
        """Rerun a resolved task now; its resolved dependents, transitively, go back to
        waiting and rerun when their dependencies complete (an infrax extension)."""
        return await self._call("rerunSubtree", t.RerunSubtreeResponse, {"taskId": task_id})

    async def cancel_task(self, task_id: str) -> t.TaskStatusResponse:
        """Resolve the task's current run as exception/canceled."""
        return await self._call("cancelTask", t.TaskStatusResponse, {"taskId": task_id})

    async def change_task_priority(
        self, task_id: str, new_priority: Priority | str
    ) -> t.TaskStatusResponse:
        """Change the priority of an unresolved task."""
        body = t.ChangePriorityRequest(new_priority=Priority(new_priority))
        return await self._call(
            "changeTaskPriority", t.TaskStatusResponse, {"taskId": task_id}, body
        )

    async def list_dependent_tasks(
        self, task_id: str, *, continuation_token: str | None = None, limit: int | None = None
    ) -> t.ListDependentTasksResponse:
        """One page of the tasks that depend on ``task_id``."""
        query = {"continuationToken": continuation_token, "limit": limit}
        return await self._call(
            "listDependentTasks", t.ListDependentTasksResponse, {"taskId": task_id}, None, query
        )

    def iter_list_dependent_tasks(
        self, task_id: str, *, limit: int | None = None
    ) -> AsyncIterator[t.TaskAndStatus]:
        """Every task that depends on ``task_id``."""
        return self._paginate(
            lambda token: self.list_dependent_tasks(task_id, continuation_token=token, limit=limit),
            lambda page: page.tasks,
        )

    # -- task groups -----------------------------------------------------------------------------
    async def list_task_group(
        self, task_group_id: str, *, continuation_token: str | None = None, limit: int | None = None
    ) -> t.ListTaskGroupResponse:
        """One page of the tasks of a group, with their statuses."""
        query = {"continuationToken": continuation_token, "limit": limit}
        params = {"taskGroupId": task_group_id}
        return await self._call("listTaskGroup", t.ListTaskGroupResponse, params, None, query)

    def iter_list_task_group(
        self, task_group_id: str, *, limit: int | None = None
    ) -> AsyncIterator[t.TaskAndStatus]:
        """Every task of a group with its status."""
        return self._paginate(
            lambda token: self.list_task_group(
                task_group_id, continuation_token=token, limit=limit
            ),
            lambda page: page.tasks,
        )

    async def get_task_group(self, task_group_id: str) -> t.TaskGroup:
        """A task group: its scheduler, expiry and seal."""
        return await self._call("getTaskGroup", t.TaskGroup, {"taskGroupId": task_group_id})

    async def seal_task_group(self, task_group_id: str) -> t.TaskGroup:
        """Seal a group: no task may be added to it afterwards."""
        return await self._call("sealTaskGroup", t.TaskGroup, {"taskGroupId": task_group_id})

    async def cancel_task_group(self, task_group_id: str) -> t.CancelTaskGroupResponse:
        """Cancel every unresolved task of a sealed group."""
        params = {"taskGroupId": task_group_id}
        return await self._call("cancelTaskGroup", t.CancelTaskGroupResponse, params)

    async def change_task_group_priority(
        self, task_group_id: str, new_priority: Priority | str
    ) -> t.ChangeTaskGroupPriorityResponse:
        """Change the priority of every unresolved task of a group."""
        body = t.ChangePriorityRequest(new_priority=Priority(new_priority))
        params = {"taskGroupId": task_group_id}
        return await self._call(
            "changeTaskGroupPriority", t.ChangeTaskGroupPriorityResponse, params, body
        )

    # -- claims and reports -----------------------------------------------------------------------
    async def claim_work(
        self, task_queue_id: str, *, worker_group: str, worker_id: str, tasks: int = 1
    ) -> t.ClaimWorkResponse:
        """Claim up to ``tasks`` runs, waiting up to 20 s for work; each claim carries the
        task, its status and temporary credentials for the run (``credentials_of``)."""
        body = t.ClaimWorkRequest(worker_group=worker_group, worker_id=worker_id, tasks=tasks)
        params = {"taskQueueId": task_queue_id}
        return await self._call("claimWork", t.ClaimWorkResponse, params, body)

    async def reclaim_task(self, task_id: str, run_id: int) -> t.TaskReclaimResponse:
        """Extend the claim of a running run; raises ``RequestConflict`` (409) once the run is
        no longer running (cancelled, expired). Switch to the fresh credentials it returns."""
        params = {"taskId": task_id, "runId": run_id}
        return await self._call("reclaimTask", t.TaskReclaimResponse, params)

    async def report_completed(self, task_id: str, run_id: int) -> t.TaskStatusResponse:
        """Resolve a running run as completed."""
        params = {"taskId": task_id, "runId": run_id}
        return await self._call("reportCompleted", t.TaskStatusResponse, params)

    async def report_failed(self, task_id: str, run_id: int) -> t.TaskStatusResponse:
        """Resolve a running run as failed."""
        params = {"taskId": task_id, "runId": run_id}
        return await self._call("reportFailed", t.TaskStatusResponse, params)

    async def report_exception(
        self, task_id: str, run_id: int, reason: t.ReportableReason
    ) -> t.TaskStatusResponse:
        """Resolve a running run as exception; some reasons add a retry run."""
        params = {"taskId": task_id, "runId": run_id}
        body = t.ReportExceptionRequest(reason=reason)
        return await self._call("reportException", t.TaskStatusResponse, params, body)
