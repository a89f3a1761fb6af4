"""The workspace entity: at most `maxConcurrent` reuseKeys of a workspace run at once (lifecycle.md step 3).

`WorkspaceWorkflow` is one entity workflow per workspace, id `workspace:{id}`. Its permits are held by
key lanes, not by runs: a lane takes one slot when it becomes busy and gives it back when its queue
empties, so a second run of an active key never takes another slot and a run never waits on two locks.
Past the limit a lane is refused at once, or, when the workspace queues on its limit, waits for a slot.
It deduplicates by lane id (a retried request changes nothing), continues-as-new before its history
grows large and ends when no lane holds or waits for a slot.

The AI credit balance (lifecycle.md step 9) is not kept here but in the workspace's record in the store
(activities/credits.py, charged once per run): this entity ends whenever no lane is active, and the
balance must outlive it and be readable by the CLI without Temporal.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

from workflows.entity import Outbox, wait_until

with workflow.unsafe.imports_passed_through():
    from activities.lane import SIGNAL_RETRY, SIGNAL_TIMEOUT, check_workflow
    from webtasks.lane_models import (
        ACQUIRE_SLOT,
        RELEASE_SLOT,
        SLOT_GRANTED,
        SLOT_REFUSED,
        WORKSPACE_WORKFLOW,
        LivenessCheck,
        SlotEntry,
        SlotGrant,
        SlotRefusal,
        SlotRelease,
        SlotRequest,
        WorkspaceState,
    )

# When full, lanes holding slots are checked for liveness at most this often (a terminated lane leaks one).
SWEEP_EVERY = timedelta(minutes=1)


@workflow.defn(name=WORKSPACE_WORKFLOW)
class WorkspaceWorkflow:
    """Counts slots per active lane. Handlers only record; the main loop admits, refuses and tells."""

    @workflow.init
    def __init__(self, state: WorkspaceState) -> None:
        self._state = state
        self._changed = True
        self._outbox = Outbox(self._touch)

    @workflow.query
    def state(self) -> WorkspaceState:
        return self._state

    @workflow.signal(name=ACQUIRE_SLOT)
    def acquire_slot(self, request: SlotRequest) -> None:
        state = self._state
        state.limits = request.limits
        self._changed = True
        for holder in state.holders:
            if holder.lane_id == request.lane_id:
                if holder.token != request.token:  # the lane restarted: same slot, new name, tell it again
                    holder.token, holder.delivered = request.token, False
                return
        for entry in [*state.waiters, *state.incoming]:
            if entry.lane_id == request.lane_id:
                entry.token = request.token
                return
        state.incoming.append(SlotEntry(lane_id=request.lane_id, token=request.token))

    @workflow.signal(name=RELEASE_SLOT)
    def release_slot(self, release: SlotRelease) -> None:
        state = self._state

        def keep(entry: SlotEntry) -> bool:
            return not (entry.lane_id == release.lane_id and entry.token == release.token)

        state.holders = [e for e in state.holders if keep(e)]
        state.waiters = [e for e in state.waiters if keep(e)]
        state.incoming = [e for e in state.incoming if keep(e)]
        self._changed = True

    @workflow.run
    async def run(self, state: WorkspaceState) -> None:
        while True:
            self._changed = False
            if await self._admit() or await self._promote() or self._deliver():
                continue
            if self._idle() or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(lambda: self._outbox.empty and workflow.all_handlers_finished())
                if self._idle():
                    return  # a signal that arrives while this completes makes the server retry the task
                if workflow.info().is_continue_as_new_suggested():
                    self._state.generation += 1
                    workflow.continue_as_new(self._state)
                continue
            await wait_until(lambda: self._changed, self._until_sweep() if self._state.waiters else None)

    def _touch(self) -> None:
        self._changed = True

    def _idle(self) -> bool:
        return not (self._state.holders or self._state.waiters or self._state.incoming)

    def _full(self) -> bool:
        return len(self._state.holders) >= self._state.limits.max_concurrent

    def _until_sweep(self) -> timedelta:
        swept_at = self._state.swept_at
        return timedelta(0) if swept_at is None else swept_at + SWEEP_EVERY - workflow.now()

    async def _admit(self) -> bool:
        """The oldest new request: a slot if one is free, else (after a liveness sweep) queue or refuse."""
        state = self._state
        if not state.incoming:
            return False
        if not self._full():
            self._hold(state.incoming.pop(0))
            return True
        if self._until_sweep() <= timedelta(0):
            await self._sweep()
            return True
        entry = state.incoming.pop(0)
        if state.limits.queue_on_limit:
            state.waiters.append(entry)
            return True
        refusal = SlotRefusal(token=entry.token, limit=state.limits.max_concurrent, active=len(state.holders))
        self._outbox.send(entry.lane_id, SLOT_REFUSED, refusal)
        return True

    async def _promote(self) -> bool:
        """A freed slot goes to the lane that has waited longest (queue-on-limit workspaces)."""
        state = self._state
        if not state.waiters:
            return False
        if not self._full():
            self._hold(state.waiters.pop(0))
            return True
        if self._until_sweep() <= timedelta(0):
            await self._sweep()
            return True
        return False

    def _hold(self, entry: SlotEntry) -> None:
        entry.since, entry.delivered = workflow.now(), False
        self._state.holders.append(entry)

    def _deliver(self) -> bool:
        """Tell lanes recorded as holders; a lane that has closed gives its slot back."""
        pending = [h for h in self._state.holders if not h.delivered]
        for holder in pending:
            holder.delivered = True

            def gone(holder: SlotEntry = holder) -> None:
                self._state.holders = [h for h in self._state.holders if h is not holder]

            self._outbox.send(holder.lane_id, SLOT_GRANTED, SlotGrant(token=holder.token), on_gone=gone)
        return bool(pending)

    async def _sweep(self) -> None:
        """Drop slots held by lanes that are no longer running (terminated by an operator)."""
        state = self._state
        state.swept_at = workflow.now()
        holders = list(state.holders)
        checks = await asyncio.gather(
            *(
                workflow.execute_activity(
                    check_workflow,
                    LivenessCheck(workflow_id=h.lane_id),
                    summary=f"is {h.lane_id} still running?",
                    start_to_close_timeout=SIGNAL_TIMEOUT,
                    retry_policy=SIGNAL_RETRY,
                )
                for h in holders
            )
        )
        gone = {(h.lane_id, h.token) for h, check in zip(holders, checks, strict=True) if not check.running}
        state.holders = [h for h in state.holders if (h.lane_id, h.token) not in gone]
