"""Signals to the key lane and workspace entities, and liveness checks of the workflows holding them.

Signal-with-start runs here, not in workflow code: the in-workflow `signal_with_start_workflow` is
disabled on a stock dev server. Each activity is idempotent: the entities deduplicate by requester id
(runs) or token (lanes), so a retry that delivers twice changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import RetryPolicy
from temporalio.service import RPCError, RPCStatusCode

from webtasks.lane_models import (
    ACQUIRE_KEY,
    ACQUIRE_SLOT,
    LANE_WORKFLOW,
    RELEASE_SLOT,
    WORKSPACE_WORKFLOW,
    KeyRequest,
    LaneState,
    Liveness,
    LivenessCheck,
    SlotRelease,
    SlotRequest,
    WorkspaceState,
    lane_id,
    workspace_entity_id,
)

# Every call here is one short RPC; retried until it lands (an entity that closes meanwhile is started anew).
SIGNAL_TIMEOUT = timedelta(seconds=10)
SIGNAL_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10))


@activity.defn
async def request_key(request: KeyRequest) -> None:
    """Signal-with-start the key's lane with the run's request; starts the lane when it is not running."""
    await send_key_request(activity.client(), request)


async def send_key_request(client: Client, request: KeyRequest) -> None:
    """Join the key's queue. The API calls this as it accepts a run, so the queue follows acceptance
    order; the run's own (deduplicated) request covers runs started straight from a Temporal client."""
    lane = lane_id(request.workspace_id, request.reuse_key)
    await client.start_workflow(
        LANE_WORKFLOW,
        LaneState(workspace_id=request.workspace_id, reuse_key=request.reuse_key),
        id=lane,
        task_queue=request.task_queue,
        start_signal=ACQUIRE_KEY,
        start_signal_args=[request],
        static_summary=f"runs of reuseKey {request.reuse_key} in workspace {request.workspace_id}, one at a time",
    )


@activity.defn
async def request_slot(request: SlotRequest) -> None:
    """Signal-with-start the workspace entity with a lane's request for a slot."""
    await activity.client().start_workflow(
        WORKSPACE_WORKFLOW,
        WorkspaceState(workspace_id=request.workspace_id, limits=request.limits),
        id=workspace_entity_id(request.workspace_id),
        task_queue=request.task_queue,
        start_signal=ACQUIRE_SLOT,
        start_signal_args=[request],
        static_summary=f"slots of workspace {request.workspace_id}",
    )


@activity.defn
async def release_slot(release: SlotRelease) -> None:
    """Give a lane's slot back. A workspace entity that is not running holds no slot: nothing to do."""
    handle = activity.client().get_workflow_handle(workspace_entity_id(release.workspace_id))
    try:
        await handle.signal(RELEASE_SLOT, release)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise


@activity.defn
async def check_workflow(check: LivenessCheck) -> Liveness:
    """Whether a holder is still running: a lane's lease and a workspace's sweep drop holders that are not."""
    try:
        described = await activity.client().get_workflow_handle(check.workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return Liveness(running=False, status="NOT_FOUND")
        raise
    status = described.status
    return Liveness(
        running=status == WorkflowExecutionStatus.RUNNING, status=status.name if status is not None else None
    )
