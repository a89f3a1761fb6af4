"""The key lane: runs of one reuseKey execute one at a time, in the order they were accepted.

`KeyLaneWorkflow` is an entity workflow, one per (workspace, reuseKey), id `lane:{workspace}:{key}`. It
grants the key to one run at a time, holds one workspace slot while it has a holder or waiters, leases
the key so a run that is terminated cannot block it, continues-as-new before its history grows large,
and ends when idle.

The run's side is `LaneTicket`. A run workflow (WebTaskWorkflow) uses it like this:

    def __init__(self) -> None:
        self._ticket = LaneTicket()

    @workflow.signal(name=KEY_GRANTED)
    def key_granted(self, grant: KeyGrant) -> None:
        self._ticket.granted(grant)

    @workflow.signal(name=KEY_REFUSED)
    def key_refused(self, refusal: KeyRefusal) -> None:
        self._ticket.refused(refusal)

    @workflow.signal(name=QUEUE_POSITION)
    def queue_position(self, position: QueuePosition) -> None:
        self._ticket.moved(position)

    # in run(), after screening: `pending` with queue_position=self._ticket.position until `started`
    try:
        outcome = await self._ticket.acquire(
            run.workspace_id, run.reuse_key,
            lease=timedelta(seconds=timeout_seconds + 60),              # the run's deadline plus one minute
            queue_wait=timedelta(seconds=queue_wait_limit_seconds),    # the workspace's queue-wait limit
            limits=WorkspaceLimits(max_concurrent=..., queue_on_limit=...),
            accepted_at=run.created_at,
        )
        # "started" → started_at = workflow.now(); "workspace-rate-limited" / "timeout" → a failed run with
        # outcome.status as its code, outcome.message, outcome.details ({limit, active} / {phase: "queue"})
        ...execute, save, deliver...
    finally:
        await self._ticket.release()   # also on failure and cancellation; a terminated run is freed by the lease

`acquire` is `request` (join the queue) then `wait` (for the grant). The worker registers `KeyLaneWorkflow`,
`WorkspaceWorkflow` and the activities `request_key`, `request_slot`, `release_slot` and
`check_workflow` (activities/lane.py) on the run's task queue.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

from workflows.entity import Outbox, signal_running, wait_until

with workflow.unsafe.imports_passed_through():
    from activities.lane import SIGNAL_RETRY, SIGNAL_TIMEOUT, check_workflow, release_slot, request_key, request_slot
    from webtasks.lane_models import (
        ACQUIRE_KEY,
        KEY_GRANTED,
        KEY_REFUSED,
        LANE_WORKFLOW,
        QUEUE_POSITION,
        RELEASE_KEY,
        SLOT_GRANTED,
        SLOT_REFUSED,
        Holder,
        KeyGrant,
        KeyOutcome,
        KeyRefusal,
        KeyRelease,
        KeyRequest,
        LaneState,
        LivenessCheck,
        QueuePosition,
        SlotGrant,
        SlotRefusal,
        SlotRelease,
        SlotRequest,
        Waiter,
        WorkspaceLimits,
        lane_id,
    )

__all__ = [
    "KEY_GRANTED",
    "KEY_REFUSED",
    "QUEUE_POSITION",
    "KeyGrant",
    "KeyLaneWorkflow",
    "KeyOutcome",
    "KeyRefusal",
    "LaneTicket",
    "QueuePosition",
    "WorkspaceLimits",
]

# How often the lane checks that its holder is still running (at its lease, if that is sooner): a holder
# that was terminated, or whose workflow otherwise closed without releasing, frees the key this fast.
LIVENESS_INTERVAL = timedelta(seconds=15)
# Waiters further back learn their position when they join and again once they are this close.
POSITION_REPORT_LIMIT = 100
# Requester ids remembered after they leave, so a late duplicate acquire does not queue them again.
DONE_REMEMBERED = 256
# How long a run may spend getting its request to the lane before the run fails `internal-error`.
REQUEST_DEADLINE = timedelta(minutes=2)


@workflow.defn(name=LANE_WORKFLOW)
class KeyLaneWorkflow:
    """Grants one reuseKey to one run at a time. Handlers only record; the main loop does all the talking."""

    @workflow.init
    def __init__(self, state: LaneState) -> None:
        self._state = state
        self._id = lane_id(state.workspace_id, state.reuse_key)
        self._changed = True
        self._outbox = Outbox(self._touch)

    @workflow.query
    def state(self) -> LaneState:
        return self._state

    @workflow.signal(name=ACQUIRE_KEY)
    def acquire(self, request: KeyRequest) -> None:
        state, who = self._state, request.requester_id
        if who in state.done or (state.holder is not None and state.holder.requester_id == who):
            return
        if any(w.request.requester_id == who for w in state.waiters):
            return
        state.limits = request.limits
        # Acceptance order: behind every waiter accepted no later than this run (arrival breaks ties).
        index = len(state.waiters)
        while index > 0 and state.waiters[index - 1].request.accepted_at > request.accepted_at:
            index -= 1
        state.waiters.insert(index, Waiter(request=request, ticket=state.next_ticket))
        state.next_ticket += 1
        self._changed = True

    @workflow.signal(name=RELEASE_KEY)
    def release(self, release: KeyRelease) -> None:
        state, who = self._state, release.requester_id
        if state.holder is not None and state.holder.requester_id == who:
            state.holder = None
        state.waiters = [w for w in state.waiters if w.request.requester_id != who]
        self._forget_later(who)
        self._changed = True

    @workflow.signal(name=SLOT_GRANTED)
    def slot_granted(self, grant: SlotGrant) -> None:
        if self._state.slot == "requested" and grant.token == self._state.slot_token:
            self._state.slot = "held"
            self._changed = True

    @workflow.signal(name=SLOT_REFUSED)
    def slot_refused(self, refusal: SlotRefusal) -> None:
        if self._state.slot == "requested" and refusal.token == self._state.slot_token:
            self._state.slot_refusal = refusal
            self._changed = True

    @workflow.run
    async def run(self, state: LaneState) -> None:
        while True:
            self._changed = False
            if await self._check_lease() or await self._settle_slot() or self._grant_next():
                continue
            self._report_positions()
            if self._idle() or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(lambda: self._outbox.empty and workflow.all_handlers_finished())
                if self._idle():
                    return  # a signal that arrives while this completes makes the server retry the task
                if workflow.info().is_continue_as_new_suggested():
                    self._state.generation += 1
                    workflow.continue_as_new(self._state)
                continue
            await wait_until(lambda: self._changed, self._until_lease_check())

    def _touch(self) -> None:
        self._changed = True

    def _idle(self) -> bool:
        state = self._state
        return state.holder is None and not state.waiters and state.slot == "none"

    def _forget_later(self, requester_id: str) -> None:
        done = self._state.done
        if requester_id not in done:
            done.append(requester_id)
            del done[:-DONE_REMEMBERED]

    def _until_lease_check(self) -> timedelta | None:
        holder = self._state.holder
        return None if holder is None else holder.check_at - workflow.now()

    async def _check_lease(self) -> bool:
        """The holder keeps the key only while its workflow is still running."""
        holder = self._state.holder
        if holder is None or workflow.now() < holder.check_at:
            return False
        liveness = await workflow.execute_activity(
            check_workflow,
            LivenessCheck(workflow_id=holder.requester_id),
            summary=f"is {holder.requester_id} still running?",
            start_to_close_timeout=SIGNAL_TIMEOUT,
            retry_policy=SIGNAL_RETRY,
        )
        if self._state.holder is not holder:
            return True  # released meanwhile
        if liveness.running:
            holder.check_at = workflow.now() + min(timedelta(seconds=holder.lease_seconds), LIVENESS_INTERVAL)
        else:
            workflow.logger.info("lease of %s ended: %s; the key moves on", holder.requester_id, liveness.status)
            self._state.holder = None
            self._forget_later(holder.requester_id)
        return True

    async def _settle_slot(self) -> bool:
        """Take a workspace slot when work arrives, give it back when the queue empties."""
        state = self._state
        if state.slot == "none" and state.waiters:
            state.slot, state.slot_token = "requested", str(workflow.uuid4())
            await self._slot_activity(
                request_slot,
                SlotRequest(
                    workspace_id=state.workspace_id,
                    lane_id=self._id,
                    token=state.slot_token,
                    limits=state.limits,
                    task_queue=workflow.info().task_queue,
                ),
                "ask the workspace for a slot",
            )
            return True
        if state.slot == "requested" and state.slot_refusal is not None:
            refusal, refused = state.slot_refusal, state.waiters
            state.slot, state.slot_token, state.slot_refusal, state.waiters = "none", None, None, []
            for waiter in refused:
                self._forget_later(waiter.request.requester_id)
            message = (
                f"workspace {state.workspace_id} is already running {refusal.active} different reuseKeys, its "
                f"limit (maxConcurrent {refusal.limit}); start the run again later, raise the limit with "
                f"`webtasks workspace set {state.workspace_id} --max-concurrent N`, or make runs wait for a slot "
                f"with `--queue-on-limit`"
            )
            verdict = KeyRefusal(message=message, details={"limit": refusal.limit, "active": refusal.active})
            for waiter in refused:
                self._outbox.send(waiter.request.requester_id, KEY_REFUSED, verdict)
            return True
        if state.slot != "none" and state.holder is None and not state.waiters:
            token = state.slot_token
            state.slot, state.slot_token, state.slot_refusal = "none", None, None
            assert token is not None
            await self._slot_activity(
                release_slot,
                SlotRelease(workspace_id=state.workspace_id, lane_id=self._id, token=token),
                "give the workspace slot back",
            )
            return True
        return False

    def _grant_next(self) -> bool:
        """Record the next waiter as holder, then tell it; one that has closed is skipped."""
        state = self._state
        if state.slot != "held" or state.holder is not None or not state.waiters:
            return False
        waiter = state.waiters.pop(0)
        request, now = waiter.request, workflow.now()
        holder = Holder(
            requester_id=request.requester_id,
            ticket=waiter.ticket,
            granted_at=now,
            lease_seconds=request.lease_seconds,
            check_at=now + min(timedelta(seconds=request.lease_seconds), LIVENESS_INTERVAL),
        )
        state.holder = holder

        def gone() -> None:
            if self._state.holder is holder:
                self._state.holder = None
                self._forget_later(holder.requester_id)

        grant = KeyGrant(lane_id=self._id, ticket=waiter.ticket, granted_at=now, lease_seconds=request.lease_seconds)
        self._outbox.send(request.requester_id, KEY_GRANTED, grant, on_gone=gone)
        return True

    def _report_positions(self) -> None:
        for index, waiter in enumerate(self._state.waiters):
            position = index + 1
            if waiter.reported_position != position and (
                position <= POSITION_REPORT_LIMIT or waiter.reported_position is None
            ):
                waiter.reported_position = position
                self._outbox.send(waiter.request.requester_id, QUEUE_POSITION, QueuePosition(position=position))

    async def _slot_activity(self, activity_fn: Callable[[Any], Any], arg: Any, summary: str) -> None:
        await workflow.execute_activity(
            activity_fn, arg, summary=summary, start_to_close_timeout=SIGNAL_TIMEOUT, retry_policy=SIGNAL_RETRY
        )


class LaneTicket:
    """The run's place in its key's lane: ask, wait for the grant, give the key back.

    Forward the three lane signals (`KEY_GRANTED`, `KEY_REFUSED`, `QUEUE_POSITION`) to `granted`,
    `refused` and `moved`. `position` is the run's queue position while it waits (None before the
    lane has answered and once the key is granted). `acquire` is `request` then `wait`; a run that
    calls `request` before other work and `wait` after it joins the queue closer to its acceptance.
    """

    def __init__(self) -> None:
        self.position: int | None = None
        self.grant: KeyGrant | None = None
        self.refusal: KeyRefusal | None = None
        self._lane: str | None = None
        self._reuse_key = ""
        self._requester = ""
        self._requested_at: datetime | None = None
        self._left = False

    def granted(self, grant: KeyGrant) -> None:
        if not self._left:
            self.grant, self.position = grant, None

    def refused(self, refusal: KeyRefusal) -> None:
        if self.grant is None:
            self.refusal, self.position = refusal, None

    def moved(self, position: QueuePosition) -> None:
        if self.grant is None and self.refusal is None and not self._left:
            self.position = position.position

    async def acquire(
        self,
        workspace_id: str,
        reuse_key: str,
        *,
        lease: timedelta,
        queue_wait: timedelta,
        limits: WorkspaceLimits | None = None,
        accepted_at: datetime | None = None,
    ) -> KeyOutcome:
        """`request` the key, then `wait` for it."""
        await self.request(workspace_id, reuse_key, lease=lease, limits=limits, accepted_at=accepted_at)
        return await self.wait(queue_wait)

    async def request(
        self,
        workspace_id: str,
        reuse_key: str,
        *,
        lease: timedelta,
        limits: WorkspaceLimits | None = None,
        accepted_at: datetime | None = None,
    ) -> None:
        """Join the key's queue (starting its lane if it is idle).

        `lease` is how long the key stays the run's before the lane checks that the run is still
        running: the run's deadline plus one minute. `limits` are the workspace's admission settings
        as the run read them. `accepted_at` orders the queue (default: when this workflow started).
        Raises `ActivityError` if the lane cannot be reached within two minutes.
        """
        info = workflow.info()
        self._lane, self._reuse_key, self._requester = lane_id(workspace_id, reuse_key), reuse_key, info.workflow_id
        self._requested_at = workflow.now()
        request = KeyRequest(
            workspace_id=workspace_id,
            reuse_key=reuse_key,
            requester_id=info.workflow_id,
            accepted_at=accepted_at or info.start_time,
            lease_seconds=lease.total_seconds(),
            limits=limits or WorkspaceLimits(),
            task_queue=info.task_queue,
        )
        await workflow.execute_activity(
            request_key,
            request,
            summary=f"queue for reuseKey {reuse_key}",
            start_to_close_timeout=SIGNAL_TIMEOUT,
            schedule_to_close_timeout=REQUEST_DEADLINE,
            retry_policy=SIGNAL_RETRY,
        )

    async def wait(self, queue_wait: timedelta) -> KeyOutcome:
        """Wait for the grant or a refusal, up to `queue_wait` after `request`; on timeout leave the queue."""
        assert self._requested_at is not None, "request() first"
        remaining = queue_wait - (workflow.now() - self._requested_at)
        await wait_until(lambda: self.grant is not None or self.refusal is not None, remaining)
        waited = (workflow.now() - self._requested_at).total_seconds()
        if self.grant is not None:
            return KeyOutcome(status="started", grant=self.grant, waited_seconds=waited)
        if self.refusal is not None:
            self._left = True  # the lane has already let go of this run
            return KeyOutcome(
                status="workspace-rate-limited",
                message=self.refusal.message,
                details=self.refusal.details,
                waited_seconds=waited,
            )
        await self.release()
        limit = round(queue_wait.total_seconds())
        return KeyOutcome(
            status="timeout",
            message=(
                f"the run waited {limit} s in the queue of reuseKey {self._reuse_key}, the workspace's queue-wait "
                "limit, without its turn coming; start it again later, or raise the limit"
            ),
            details={"phase": "queue", "queueWaitSeconds": limit},
            waited_seconds=waited,
        )

    async def release(self) -> None:
        """Give the key back or leave the queue; safe to call twice, or when nothing was asked for."""
        if self._lane is None or self._left:
            return
        self._left, self.position = True, None
        await signal_running(self._lane, RELEASE_KEY, KeyRelease(requester_id=self._requester))
