"""Model spend against the workspace's credits (lifecycle step 9)."""

from __future__ import annotations

import os

from temporalio import activity

from activities.errors import NOT_FOUND, non_retryable
from webtasks.models import ChargeInput, CreditCheck, CreditCheckInput
from webtasks.store import get_store
from webtasks.store.workspaces import WorkspaceStore


@activity.defn
def check_credits(request: CreditCheckInput) -> CreditCheck:
    """May this run call the model? Its own key always may; otherwise the server needs a key and credits."""
    if request.own_key:
        return CreditCheck(allowed=True)
    if not os.environ.get("ANTHROPIC_API_KEY"):
        return CreditCheck(
            allowed=False,
            message="this run needs the model and the server has no model key: set ANTHROPIC_API_KEY for the "
            "worker, or pass your own key as anthropicApiKey",
        )
    workspace = WorkspaceStore(get_store()).get(request.workspace_id)
    if workspace is None:
        raise non_retryable(NOT_FOUND, f"workspace {request.workspace_id} does not exist")
    if workspace.credits_usd <= 0:
        return CreditCheck(
            allowed=False,
            balance_usd=workspace.credits_usd,
            message=f"workspace {workspace.id} has no AI credits left (balance ${workspace.credits_usd:.4f}); add some "
            f"with `webtasks workspace credits add {workspace.id} USD`, or pass your own key as anthropicApiKey",
        )
    return CreditCheck(allowed=True, balance_usd=workspace.credits_usd)


@activity.defn
def charge_credits(request: ChargeInput) -> float:
    """Charge a run's model spend once, whatever the retries; returns the new balance."""
    workspace = WorkspaceStore(get_store()).charge(request.workspace_id, request.usd, charge_id=request.web_task_id)
    return workspace.credits_usd
