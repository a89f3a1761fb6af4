"""Start, read, list and cancel runs (api.md)."""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from activities.lane import send_key_request
from webtasks.api.deps import Temporal, Workspace
from webtasks.api.errors import ApiError
from webtasks.config import settings
from webtasks.lane_models import LEASE_MARGIN, KeyRequest, WorkspaceLimits
from webtasks.models import (
    CancelResponse,
    ReuseRef,
    RunError,
    RunList,
    StartRequest,
    StartResponse,
    WebTaskInput,
    WebTaskResult,
    utcnow,
)
from webtasks.store import get_store
from webtasks.store.workspaces import WorkspaceStore
from webtasks.temporal import REUSE_KEY, WORKSPACE, new_run, start_web_task

log = logging.getLogger("webtasks.api")
WebTaskId = Annotated[str, Path(alias="webTaskId")]
QUERY_TIMEOUT = timedelta(seconds=5)
router = APIRouter(prefix="/api/v1/workspace/{workspaceId}/web-tasks", tags=["web tasks"])

STATUS_FILTERS = {
    "pending": "ExecutionStatus = 'Running'",
    "started": "ExecutionStatus = 'Running'",
    "completed": "ExecutionStatus IN ('Completed', 'Failed', 'Terminated', 'TimedOut')",
    "canceled": "ExecutionStatus = 'Canceled'",
}


def _unavailable(exc: Exception) -> ApiError:
    return ApiError(503, "Temporal is not reachable right now; retry shortly", details={"cause": type(exc).__name__})


@router.post("/start", response_model=StartResponse, response_model_by_alias=True)
async def start(body: StartRequest, request: Request, workspace: Workspace, client: Temporal) -> dict[str, Any]:
    """Accept a run. When this returns, the run is durably recorded in Temporal."""
    raw = await request.json()
    if isinstance(raw, dict) and raw.get("auth") is not None:
        raise ApiError(
            422,
            "`auth` (auth sessions) is not supported: sites behind a login cannot be automated yet; remove the field",
            code="unsupported-field",
            details=[{"field": "auth", "message": "not supported"}],
        )
    own_key = body.anthropic_api_key.get_secret_value() if body.anthropic_api_key else None
    run = new_run(body.public(), workspace_id=workspace, anthropic_api_key=own_key)
    try:
        await start_web_task(client, run)
    except RPCError as exc:
        raise _unavailable(exc) from exc
    await _join_queue(client, run)
    log.info("accepted %s for reuseKey %s in %s", run.web_task_id, run.reuse_key, workspace)
    return StartResponse(web_task_id=run.web_task_id, reuse=ReuseRef(key=run.reuse_key)).wire()


async def _join_queue(client: Client, run: WebTaskInput) -> None:
    """Put the accepted run in its key's queue now, so the queue follows acceptance order.

    The run asks again itself (the lane ignores the repeat), so a failure here only costs ordering.
    """
    found = await asyncio.to_thread(WorkspaceStore(get_store()).get, run.workspace_id)
    limits = WorkspaceLimits(
        max_concurrent=found.max_concurrent if found else 10, queue_on_limit=found.queue_on_limit if found else False
    )
    request = KeyRequest(
        workspace_id=run.workspace_id,
        reuse_key=run.reuse_key,
        requester_id=run.web_task_id,
        accepted_at=run.created_at or utcnow(),
        lease_seconds=run.request.timeout_seconds + LEASE_MARGIN.total_seconds(),
        limits=limits,
        task_queue=settings().task_queue,
    )
    try:
        await send_key_request(client, request)
    except RPCError as exc:
        log.warning("%s: could not join the queue of %s at acceptance: %s", run.web_task_id, run.reuse_key, exc)


async def read_result(client: Client, workspace: str, web_task_id: str) -> WebTaskResult:
    """The run's result as the API shows it, from Temporal alone (the workflow owns its status)."""
    handle = client.get_workflow_handle(web_task_id, result_type=WebTaskResult)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise ApiError(404, f"no web task {web_task_id} in workspace {workspace}") from None
        raise _unavailable(exc) from exc
    if description.typed_search_attributes.get(WORKSPACE) != workspace:
        raise ApiError(404, f"no web task {web_task_id} in workspace {workspace}")
    return await _from_description(handle, description)


async def _from_description(
    handle: WorkflowHandle[Any, WebTaskResult], description: WorkflowExecutionDescription
) -> WebTaskResult:
    status = description.raw_description.workflow_execution_info.status
    created_at = description.start_time
    if status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED:
        return await handle.result()
    if status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING:
        try:
            return await handle.query("status", result_type=WebTaskResult, rpc_timeout=QUERY_TIMEOUT)
        except Exception:
            return WebTaskResult(web_task_id=handle.id, status="pending", created_at=created_at, queue_position=None)
    closed_at = description.close_time or utcnow()
    if status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED:
        return WebTaskResult(web_task_id=handle.id, status="canceled", created_at=created_at, completed_at=closed_at)
    reason = {
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED: "terminated",
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TIMED_OUT: "workflow-timed-out",
    }.get(status, "workflow-failed")
    return WebTaskResult(
        web_task_id=handle.id,
        status="completed",
        outcome="failed",
        created_at=created_at,
        completed_at=closed_at,
        error=RunError(
            code="internal-error",
            message=f"the run's workflow ended abnormally ({reason}) before it could report a result",
            details={"reason": reason},
        ),
        attempts=[],
    )


@router.get("/{webTaskId}/result")
async def result(web_task_id: WebTaskId, workspace: Workspace, client: Temporal) -> dict[str, Any]:
    """The run's status and, once it is completed, its outcome, result or error. Always 200 for a known run."""
    return (await read_result(client, workspace, web_task_id)).wire()


@router.get("")
async def list_runs(
    workspace: Workspace,
    client: Temporal,
    reuse_key: Annotated[str | None, Query(alias="reuseKey")] = None,
    status: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """Runs of the workspace, newest first."""
    if status is not None and status not in STATUS_FILTERS:
        raise ApiError(
            422,
            f"status must be one of {', '.join(STATUS_FILTERS)}",
            details=[{"field": "status", "message": "unknown status"}],
        )
    query = f"WorkflowType = 'WebTaskWorkflow' AND {WORKSPACE.name} = '{workspace}'"
    if reuse_key:
        query += f" AND {REUSE_KEY.name} = '{reuse_key.replace(chr(39), '')}'"
    if status:
        query += f" AND {STATUS_FILTERS[status]}"
    token = base64.urlsafe_b64decode(cursor.encode()) if cursor else None
    try:
        iterator = client.list_workflows(query, page_size=limit, next_page_token=token)
        await iterator.fetch_next_page(page_size=limit)
        executions = list(iterator.current_page or [])
    except RPCError as exc:
        raise _unavailable(exc) from exc
    items = []
    for execution in executions:
        run = await read_result(client, workspace, execution.id)
        if status in ("pending", "started") and run.status != status:
            continue
        items.append(run.wire())
    next_token = iterator.next_page_token
    next_cursor = base64.urlsafe_b64encode(next_token).decode() if next_token else None
    return RunList(items=items, next_cursor=next_cursor).wire()


@router.post("/{webTaskId}/cancel", response_model=CancelResponse)
async def cancel(web_task_id: WebTaskId, workspace: Workspace, client: Temporal) -> dict[str, Any]:
    """Cancel a pending or started run; 409 if it has already completed."""
    current = await read_result(client, workspace, web_task_id)
    if current.status == "completed":
        raise ApiError(409, f"web task {web_task_id} has already completed", code="already-completed")
    if current.status != "canceled":
        try:
            await client.get_workflow_handle(web_task_id).cancel()
        except RPCError as exc:
            raise _unavailable(exc) from exc
    return CancelResponse(web_task_id=web_task_id).wire()
