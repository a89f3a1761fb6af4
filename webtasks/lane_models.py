"""Contracts of the key lane and the workspace entity (lifecycle.md steps 3-4).

A run asks its key's lane (`KeyLaneWorkflow`, one per workspace and reuseKey) for the key; the lane asks
the workspace entity (`WorkspaceWorkflow`) for one slot while it is busy. Everything here travels through
workflow history, so it stays small. To be folded into `webtasks.models` later.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

LANE_WORKFLOW = "KeyLaneWorkflow"
WORKSPACE_WORKFLOW = "WorkspaceWorkflow"

# Signals a run sends to its lane (through the `request_key` activity, and `release` directly).
ACQUIRE_KEY = "acquire_key"
RELEASE_KEY = "release_key"
# Signals a lane sends to a run: the run workflow must handle all three (see `workflows.lane.LaneTicket`).
KEY_GRANTED = "key_granted"
KEY_REFUSED = "key_refused"
QUEUE_POSITION = "queue_position"
# Signals between a lane and its workspace entity.
ACQUIRE_SLOT = "acquire_slot"
RELEASE_SLOT = "release_slot"
SLOT_GRANTED = "slot_granted"
SLOT_REFUSED = "slot_refused"


def lane_id(workspace_id: str, reuse_key: str) -> str:
    """Workflow id of a key's lane. Workspace ids never contain `:`, so the id is unambiguous."""
    return f"lane:{workspace_id}:{reuse_key}"


def workspace_entity_id(workspace_id: str) -> str:
    """Workflow id of a workspace's entity workflow."""
    return f"workspace:{workspace_id}"


# A holder that vanished loses its key this long after its deadline (lifecycle step 4).
LEASE_MARGIN = timedelta(minutes=1)


class WorkspaceLimits(BaseModel):
    """The workspace's admission settings, as the run read them; the workspace entity applies the latest."""

    max_concurrent: int = Field(default=10, ge=1)
    queue_on_limit: bool = False


# ---------------------------------------------------------------- run ↔ lane


class KeyRequest(BaseModel):
    """A run asks for its key. `requester_id` (the run's workflow id) deduplicates retried deliveries."""

    workspace_id: str
    reuse_key: str
    requester_id: str
    accepted_at: datetime
    lease_seconds: float
    limits: WorkspaceLimits = Field(default_factory=WorkspaceLimits)
    task_queue: str


class KeyRelease(BaseModel):
    """A run gives the key back, or leaves the queue (canceled, queue-wait timeout)."""

    requester_id: str


class KeyGrant(BaseModel):
    """The key is the run's: it may execute now. `ticket` is its acceptance number at the lane."""

    lane_id: str
    ticket: int
    granted_at: datetime
    lease_seconds: float


class KeyRefusal(BaseModel):
    """The run may not queue: it ends `failed` with this code, message and details."""

    code: Literal["workspace-rate-limited"] = "workspace-rate-limited"
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class QueuePosition(BaseModel):
    """The run's place in its key's queue: 1 = next."""

    position: int


class KeyOutcome(BaseModel):
    """What waiting for the key came to; the run maps `status` onto `started` or a failed run's code."""

    status: Literal["started", "workspace-rate-limited", "timeout"]
    message: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    grant: KeyGrant | None = None
    waited_seconds: float = 0.0


# ---------------------------------------------------------------- lane ↔ workspace


class SlotRequest(BaseModel):
    """A lane asks for a slot. `token` names this activation, so a stale grant is never taken for a new one."""

    workspace_id: str
    lane_id: str
    token: str
    limits: WorkspaceLimits
    task_queue: str


class SlotRelease(BaseModel):
    workspace_id: str
    lane_id: str
    token: str


class SlotGrant(BaseModel):
    token: str


class SlotRefusal(BaseModel):
    token: str
    limit: int
    active: int


class SlotEntry(BaseModel):
    lane_id: str
    token: str
    since: datetime | None = None
    delivered: bool = False


# ---------------------------------------------------------------- lane state (carried across continue-as-new)


class Waiter(BaseModel):
    request: KeyRequest
    ticket: int
    reported_position: int | None = None


class Holder(BaseModel):
    requester_id: str
    ticket: int
    granted_at: datetime
    lease_seconds: float
    check_at: datetime


class LaneState(BaseModel):
    """Input of `KeyLaneWorkflow`: empty when started, the whole queue when continued-as-new."""

    workspace_id: str
    reuse_key: str
    holder: Holder | None = None
    waiters: list[Waiter] = Field(default_factory=list)
    next_ticket: int = 1
    slot: Literal["none", "requested", "held"] = "none"
    slot_token: str | None = None
    slot_refusal: SlotRefusal | None = None
    limits: WorkspaceLimits = Field(default_factory=WorkspaceLimits)
    done: list[str] = Field(default_factory=list)
    generation: int = 0


class WorkspaceState(BaseModel):
    """Input of `WorkspaceWorkflow`: empty when started, every slot and waiter when continued-as-new.

    The workspace's AI credit balance will live here too (architecture.md "Workflows").
    """

    workspace_id: str
    limits: WorkspaceLimits = Field(default_factory=WorkspaceLimits)
    holders: list[SlotEntry] = Field(default_factory=list)
    waiters: list[SlotEntry] = Field(default_factory=list)
    incoming: list[SlotEntry] = Field(default_factory=list)
    swept_at: datetime | None = None
    generation: int = 0


# ---------------------------------------------------------------- liveness


class LivenessCheck(BaseModel):
    workflow_id: str


class Liveness(BaseModel):
    running: bool
    status: str | None = None
