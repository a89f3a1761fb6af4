"""Saved automations: list, show, save user-written code, roll back (api.md extensions)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path

from webtasks.api.deps import Temporal, Workspace
from webtasks.api.errors import ApiError
from webtasks.automation import InvalidCode
from webtasks.models import (
    REUSE_KEY_PATTERN,
    AutomationDetail,
    AutomationList,
    AutomationSummary,
    PutAutomationRequest,
    RollbackRequest,
)
from webtasks.store import NotFound, get_store
from webtasks.store.revisions import RevisionStore
from webtasks.temporal import REUSE_KEY, WORKSPACE

router = APIRouter(prefix="/api/v1/workspace/{workspaceId}/automations", tags=["automations"])
ReuseKey = Annotated[str, Path(alias="reuseKey", pattern=REUSE_KEY_PATTERN)]


def _revisions() -> RevisionStore:
    return RevisionStore(get_store())


@router.get("")
async def list_automations(workspace: Workspace, client: Temporal) -> dict[str, Any]:
    """Every reuseKey with its current revision and its newest run."""
    store = _revisions()
    items = []
    for key in await asyncio.to_thread(store.keys, workspace):
        history = await asyncio.to_thread(store.history, workspace, key)
        current_id = await asyncio.to_thread(store.current_id, workspace, key)
        current = next(r for r in history if r.revision_id == current_id)
        last_run = None
        query = f"{WORKSPACE.name} = '{workspace}' AND {REUSE_KEY.name} = '{key}'"
        async for execution in client.list_workflows(query, limit=1):
            last_run = {
                "webTaskId": execution.id,
                "createdAt": execution.start_time.isoformat(),
                "state": execution.status.name.lower() if execution.status else None,
            }
        items.append(
            AutomationSummary(
                reuse_key=key,
                current_revision_id=current.revision_id,
                revision_timestamp=current.created_at,
                revision_count=len(history),
                last_run=last_run,
            )
        )
    return AutomationList(items=items).wire()


@router.get("/{reuseKey}")
async def show_automation(reuse_key: ReuseKey, workspace: Workspace) -> dict[str, Any]:
    """The current revision with its code and schema, and the list of all revisions."""
    store = _revisions()
    current = await asyncio.to_thread(store.current, workspace, reuse_key)
    if current is None:
        raise ApiError(404, f"no automation is saved under reuseKey {reuse_key!r}")
    history = await asyncio.to_thread(store.history, workspace, reuse_key)
    return AutomationDetail(reuse_key=reuse_key, current=current, revisions=[r.summary() for r in history]).wire()


@router.put("/{reuseKey}")
async def put_automation(reuse_key: ReuseKey, body: PutAutomationRequest, workspace: Workspace) -> dict[str, Any]:
    """Save user-written code as a new current revision; older revisions are kept."""
    try:
        revision = await asyncio.to_thread(
            _revisions().save,
            workspace,
            reuse_key,
            code=body.code,
            output_schema=body.output_schema,
            source="user",
            expected_current=None,
            check_expected=False,
        )
    except InvalidCode as exc:
        raise ApiError(422, str(exc), details=[{"field": "code", "message": str(exc)}]) from None
    return revision.summary().wire()


@router.post("/{reuseKey}/rollback")
async def rollback(reuse_key: ReuseKey, body: RollbackRequest, workspace: Workspace) -> dict[str, Any]:
    """Make an older revision current again."""
    try:
        revision = await asyncio.to_thread(_revisions().rollback, workspace, reuse_key, body.revision_id)
    except NotFound:
        raise ApiError(404, f"reuseKey {reuse_key!r} has no revision {body.revision_id!r}") from None
    return revision.summary().wire()
