"""Step 2 of a run: refuse start URLs the workspace may not reach, before any browser work."""

from __future__ import annotations

from urllib.parse import urlsplit

from temporalio import activity

from activities.errors import NOT_FOUND, non_retryable
from webtasks.models import ScreenInput, ScreenResult
from webtasks.network import private_address
from webtasks.store import get_store
from webtasks.store.workspaces import WorkspaceStore


@activity.defn
def screen_request(request: ScreenInput) -> ScreenResult:
    workspace = WorkspaceStore(get_store()).get(request.workspace_id)
    if workspace is None:
        raise non_retryable(NOT_FOUND, f"workspace {request.workspace_id} does not exist")
    limits = {
        "max_concurrent": workspace.max_concurrent,
        "queue_on_limit": workspace.queue_on_limit,
        "queue_wait_limit_seconds": workspace.queue_wait_limit_seconds,
    }
    if workspace.allow_private_network or not request.start_url:
        return ScreenResult(allowed=True, **limits)
    host = urlsplit(request.start_url).hostname or ""
    address = private_address(host)
    if address is None:
        return ScreenResult(allowed=True, **limits)
    return ScreenResult(
        allowed=False,
        **limits,
        reason=(
            f"startUrl host {host} resolves to the private address {address}, which workspace "
            f"{workspace.id} may not reach; use a public URL, or allow private networks with "
            f"`webtasks workspace set {workspace.id} --allow-private-network`"
        ),
    )
