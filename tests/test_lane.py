"""The key lane and workspace slots on a real Temporal dev server (lifecycle.md steps 3-4).

A test-only `HolderWorkflow` plays the run: it queues for its key through `LaneTicket`, holds it while
its "automation" (an activity that records its own execution window with the worker's clock) works, or
until told to finish, and releases it. It also records when it held the key in workflow time. Two dev
servers: one stock, one that suggests continue-as-new after 150 events so lanes do it under load.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    import pytest_asyncio
    from pydantic import BaseModel, Field
    from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from activities.lane import check_workflow, release_slot, request_key, request_slot
    from webtasks.lane_models import (
        ACQUIRE_KEY,
        KeyRequest,
        LaneState,
        WorkspaceLimits,
        WorkspaceState,
        lane_id,
        workspace_entity_id,
    )
    from workflows.lane import (
        KEY_GRANTED,
        KEY_REFUSED,
        QUEUE_POSITION,
        KeyGrant,
        KeyLaneWorkflow,
        KeyRefusal,
        LaneTicket,
        QueuePosition,
    )
    from workflows.workspace import WorkspaceWorkflow

TASK_QUEUE = "lanes"
SUGGEST_CONTINUE_AS_NEW_AFTER = 150  # history events; the stock server suggests it after thousands


class HolderJob(BaseModel):
    workspace_id: str
    reuse_key: str
    hold_seconds: float = 0.0
    until_finished: bool = False
    lease_seconds: float = 60.0
    queue_wait_seconds: float = 60.0
    limits: WorkspaceLimits = Field(default_factory=WorkspaceLimits)


class HolderView(BaseModel):
    state: str
    position: int | None = None


class Window(BaseModel):
    started_at: datetime
    ended_at: datetime


class HolderResult(BaseModel):
    status: str
    accepted_at: datetime
    ticket: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    work: Window | None = None
    positions: list[int] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


@activity.defn
async def automation(seconds: float) -> Window:
    """The work done while holding the key; records its own execution window."""
    started_at = datetime.now(UTC)
    await asyncio.sleep(seconds)
    return Window(started_at=started_at, ended_at=datetime.now(UTC))


@workflow.defn
class HolderWorkflow:
    """Stands in for WebTaskWorkflow: the handlers and calls a run copies."""

    def __init__(self) -> None:
        self._ticket = LaneTicket()
        self._positions: list[int] = []
        self._state = "queued"
        self._finished = False

    @workflow.signal(name=KEY_GRANTED)
    def key_granted(self, grant: KeyGrant) -> None:
        self._ticket.granted(grant)

    @workflow.signal(name=KEY_REFUSED)
    def key_refused(self, refusal: KeyRefusal) -> None:
        self._ticket.refused(refusal)

    @workflow.signal(name=QUEUE_POSITION)
    def queue_position(self, position: QueuePosition) -> None:
        self._positions.append(position.position)
        self._ticket.moved(position)

    @workflow.signal
    def finish(self) -> None:
        self._finished = True

    @workflow.query
    def view(self) -> HolderView:
        return HolderView(state=self._state, position=self._ticket.position)

    @workflow.run
    async def run(self, job: HolderJob) -> HolderResult:
        accepted_at = workflow.info().start_time
        try:
            outcome = await self._ticket.acquire(
                job.workspace_id,
                job.reuse_key,
                lease=timedelta(seconds=job.lease_seconds),
                queue_wait=timedelta(seconds=job.queue_wait_seconds),
                limits=job.limits,
            )
            self._state = outcome.status
            if outcome.grant is None:
                return HolderResult(
                    status=outcome.status, accepted_at=accepted_at, positions=self._positions, details=outcome.details
                )
            started_at, work = workflow.now(), None
            if job.until_finished:
                await workflow.wait_condition(lambda: self._finished)
            elif job.hold_seconds > 0:
                work = await workflow.execute_activity(
                    automation, job.hold_seconds, start_to_close_timeout=timedelta(seconds=job.hold_seconds + 30)
                )
            return HolderResult(
                status="started",
                accepted_at=accepted_at,
                ticket=outcome.grant.ticket,
                started_at=started_at,
                ended_at=workflow.now(),
                work=work,
                positions=self._positions,
            )
        finally:
            await self._ticket.release()


# ---------------------------------------------------------------- harness


async def _server(binary: str, extra_args: Sequence[str]) -> AsyncIterator[Client]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary, data_converter=pydantic_data_converter, dev_server_extra_args=extra_args
    )
    async with (
        env,
        Worker(
            env.client,
            task_queue=TASK_QUEUE,
            workflows=[KeyLaneWorkflow, WorkspaceWorkflow, HolderWorkflow],
            activities=[request_key, request_slot, release_slot, check_workflow, automation],
        ),
    ):
        yield env.client


@pytest_asyncio.fixture(scope="module")
async def client(temporal_binary: str) -> AsyncIterator[Client]:
    async for connected in _server(temporal_binary, []):
        yield connected


@pytest_asyncio.fixture(scope="module")
async def busy_client(temporal_binary: str) -> AsyncIterator[Client]:
    """A server that suggests continue-as-new early, so lanes do it under load."""
    flag = f"limit.historyCount.suggestContinueAsNew={SUGGEST_CONTINUE_AS_NEW_AFTER}"
    async for connected in _server(temporal_binary, ["--dynamic-config-value", flag]):
        yield connected


Holder = WorkflowHandle[Any, HolderResult]


async def start(client: Client, workflow_id: str, job: HolderJob) -> Holder:
    return await client.start_workflow(HolderWorkflow.run, job, id=workflow_id, task_queue=TASK_QUEUE)


async def view(holder: Holder) -> HolderView:
    return await holder.query(HolderWorkflow.view)


async def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> None:
    """Poll a condition on workflow state (queries); fails the test when it does not hold in time."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"{what}: not within {timeout}s"
        await asyncio.sleep(0.05)


async def results(holders: Sequence[Holder]) -> list[HolderResult]:
    return list(await asyncio.gather(*(h.result() for h in holders)))


def assert_one_at_a_time_in_acceptance_order(runs: list[HolderResult]) -> None:
    assert all(r.status == "started" for r in runs), [r.status for r in runs]
    by_start = sorted(runs, key=lambda r: r.started_at or datetime.min)
    for before, after in itertools.pairwise(by_start):
        assert before.ended_at is not None and after.started_at is not None
        assert before.ended_at < after.started_at, "two holders of one key overlapped"
        if before.work and after.work:
            assert before.work.ended_at < after.work.started_at, "two automations of one key overlapped"
    assert [r.accepted_at for r in by_start] == sorted(r.accepted_at for r in runs), "not in acceptance order"


def start_from_threads(target: str, jobs: list[tuple[str, HolderJob]], threads: int) -> None:
    """Start holders from several threads, each with its own client, released together by a barrier."""
    barrier = threading.Barrier(threads)

    async def start_share(share: list[tuple[str, HolderJob]]) -> None:
        own = await Client.connect(target, data_converter=pydantic_data_converter)
        barrier.wait()
        for workflow_id, job in share:
            await start(own, workflow_id, job)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda share: asyncio.run(start_share(share)), [jobs[i::threads] for i in range(threads)]))


async def lane_state(client: Client, workspace_id: str, reuse_key: str) -> LaneState:
    handle = client.get_workflow_handle_for(KeyLaneWorkflow.run, lane_id(workspace_id, reuse_key))
    return await handle.query(KeyLaneWorkflow.state)


async def workspace_state(client: Client, workspace_id: str) -> WorkspaceState:
    handle = client.get_workflow_handle_for(WorkspaceWorkflow.run, workspace_entity_id(workspace_id))
    return await handle.query(WorkspaceWorkflow.state)


async def carried_waiters(client: Client, workflow_id: str) -> list[int]:
    """How many waiters each run of an entity's continue-as-new chain started with, newest first."""
    counts, run_id = [], None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        state = pydantic_data_converter.payload_converter.from_payloads(started.input.payloads, [LaneState])[0]
        counts.append(len(state.waiters))
        if not started.continued_execution_run_id:
            return counts
        run_id = started.continued_execution_run_id


async def closed(client: Client, workflow_id: str) -> bool:
    status = (await client.get_workflow_handle(workflow_id).describe()).status
    return status == WorkflowExecutionStatus.COMPLETED


# ---------------------------------------------------------------- tests


async def test_one_key_runs_one_at_a_time_in_acceptance_order(client: Client) -> None:
    jobs = [(f"a-{i:02}", HolderJob(workspace_id="ws-a", reuse_key="same", hold_seconds=0.1)) for i in range(30)]
    await asyncio.to_thread(start_from_threads, client.service_client.config.target_host, jobs, 6)
    runs = await results([client.get_workflow_handle(wid, result_type=HolderResult) for wid, _ in jobs])
    assert all(r.work is not None for r in runs)
    assert_one_at_a_time_in_acceptance_order(runs)
    assert sorted(r.ticket or 0 for r in runs) == list(range(1, 31))
    await until(lambda: closed(client, lane_id("ws-a", "same")), "the idle lane ends")
    await until(lambda: closed(client, workspace_entity_id("ws-a")), "the idle workspace entity ends")


async def test_different_keys_overlap(client: Client) -> None:
    holders = [
        await start(client, f"b-{key}", HolderJob(workspace_id="ws-b", reuse_key=key, until_finished=True))
        for key in ("k1", "k2", "k3")
    ]

    async def all_started() -> bool:
        return all(v.state == "started" for v in [await view(h) for h in holders])

    await until(all_started, "three keys held at once")
    for holder in holders:
        await holder.signal(HolderWorkflow.finish)
    runs = await results(holders)
    assert max(r.started_at or datetime.min for r in runs) < min(r.ended_at or datetime.max for r in runs)


async def test_workspace_limit_refuses_new_keys_and_queues_active_ones(client: Client) -> None:
    limits = WorkspaceLimits(max_concurrent=3)
    jobs = {key: HolderJob(workspace_id="ws-c", reuse_key=key, until_finished=True, limits=limits) for key in "vwxyz"}
    holders = dict(zip(jobs, await asyncio.gather(*(start(client, f"c-{k}", j) for k, j in jobs.items())), strict=True))

    async def all_settled() -> bool:
        return all(v.state != "queued" for v in [await view(h) for h in holders.values()])

    await until(all_settled, "each of 5 keys started or refused")
    states = {key: (await view(h)).state for key, h in holders.items()}
    active = sorted(k for k, s in states.items() if s == "started")
    refused = sorted(k for k, s in states.items() if s == "workspace-rate-limited")
    assert len(active) == 3 and len(refused) == 2, states
    for key in refused:
        assert (await holders[key].result()).details == {"limit": 3, "active": 3}

    sixth = await start(client, "c-sixth", HolderJob(workspace_id="ws-c", reuse_key=active[0], limits=limits))

    async def sixth_queued() -> bool:
        return (await view(sixth)).position == 1

    await until(sixth_queued, "a second run of an active key queues")
    slots = await workspace_state(client, "ws-c")
    assert sorted(h.lane_id for h in slots.holders) == sorted(lane_id("ws-c", k) for k in active)
    assert not slots.waiters and not slots.incoming

    for key in active:
        await holders[key].signal(HolderWorkflow.finish)
    first, second = (await holders[active[0]].result()), (await sixth.result())
    assert second.status == "started"
    assert first.ended_at is not None and second.started_at is not None and first.ended_at < second.started_at
    await until(lambda: closed(client, workspace_entity_id("ws-c")), "every slot given back")


async def test_queue_on_limit_waits_for_a_slot_or_times_out(client: Client) -> None:
    limits = WorkspaceLimits(max_concurrent=1, queue_on_limit=True)
    first = await start(
        client, "q-1", HolderJob(workspace_id="ws-q", reuse_key="q1", until_finished=True, limits=limits)
    )

    async def first_started() -> bool:
        return (await view(first)).state == "started"

    await until(first_started, "the only slot taken")
    waiting = await start(client, "q-2", HolderJob(workspace_id="ws-q", reuse_key="q2", limits=limits))
    impatient = await start(
        client, "q-3", HolderJob(workspace_id="ws-q", reuse_key="q3", limits=limits, queue_wait_seconds=1.0)
    )
    gave_up = await impatient.result()
    assert gave_up.status == "timeout" and gave_up.details["phase"] == "queue"
    assert (await view(waiting)).state == "queued"

    await first.signal(HolderWorkflow.finish)
    done_first, done_waiting = await results([first, waiting])
    assert done_waiting.status == "started"
    assert done_first.ended_at is not None and done_waiting.started_at is not None
    assert done_first.ended_at < done_waiting.started_at
    for entity in (lane_id("ws-q", "q3"), lane_id("ws-q", "q2"), workspace_entity_id("ws-q")):
        await until(functools.partial(closed, client, entity), f"{entity} ends when idle")


async def test_continue_as_new_under_load_keeps_every_waiter_in_order(busy_client: Client) -> None:
    jobs = [(f"d-{i:02}", HolderJob(workspace_id="ws-d", reuse_key="busy")) for i in range(40)]
    await asyncio.to_thread(start_from_threads, busy_client.service_client.config.target_host, jobs, 4)
    runs = await results([busy_client.get_workflow_handle(wid, result_type=HolderResult) for wid, _ in jobs])
    assert_one_at_a_time_in_acceptance_order(runs)
    assert sorted(r.ticket or 0 for r in runs) == list(range(1, 41))
    await until(lambda: closed(busy_client, lane_id("ws-d", "busy")), "the lane ends when idle")
    final = await lane_state(busy_client, "ws-d", "busy")
    assert not final.waiters and final.holder is None and final.next_ticket == 41
    carried = await carried_waiters(busy_client, lane_id("ws-d", "busy"))
    assert len(carried) == final.generation + 1 >= 5, f"the lane continued-as-new only {final.generation} times"
    assert max(carried) >= 10, f"no run of the lane started with a long queue: {carried}"


async def test_terminated_holder_loses_the_key_at_its_lease(client: Client) -> None:
    lease = 3.0

    def job(**kwargs: Any) -> HolderJob:
        return HolderJob(workspace_id="ws-e", reuse_key="e", lease_seconds=lease, **kwargs)

    holder = await start(client, "e-holder", job(until_finished=True))

    async def holding() -> bool:
        return (await view(holder)).state == "started"

    await until(holding, "the key held")
    gone_waiter = await start(client, "e-gone", job())
    await until(lambda: _at(gone_waiter, 1), "a waiter queued")
    next_one = await start(client, "e-next", job())
    await until(lambda: _at(next_one, 2), "a second waiter queued")

    await holder.terminate("killed while holding its key")
    await gone_waiter.terminate("killed while waiting")
    terminated_at = datetime.now(UTC)
    run = await next_one.result()
    assert run.status == "started" and run.started_at is not None
    assert run.started_at - terminated_at < timedelta(seconds=lease + 1.5), "not freed within the lease"
    assert run.positions == [2, 1] or run.positions == [2]


async def test_workspace_takes_back_the_slot_of_a_terminated_lane(client: Client) -> None:
    limits = WorkspaceLimits(max_concurrent=1)
    orphan = await start(
        client, "s-1", HolderJob(workspace_id="ws-s", reuse_key="s1", until_finished=True, limits=limits)
    )

    async def holding() -> bool:
        return (await view(orphan)).state == "started"

    await until(holding, "the only slot taken")
    await client.get_workflow_handle(lane_id("ws-s", "s1")).terminate("an operator killed the lane")
    after = await start(client, "s-2", HolderJob(workspace_id="ws-s", reuse_key="s2", limits=limits))
    assert (await after.result()).status == "started"
    await orphan.signal(HolderWorkflow.finish)
    assert (await orphan.result()).status == "started"
    await until(lambda: closed(client, workspace_entity_id("ws-s")), "the workspace entity ends when idle")


async def test_queue_positions_count_down_and_duplicates_are_ignored(client: Client) -> None:
    first = await start(client, "f-1", HolderJob(workspace_id="ws-f", reuse_key="f", until_finished=True))

    async def holding() -> bool:
        return (await view(first)).state == "started"

    await until(holding, "the key held")
    waiters = []
    for n in range(2, 6):
        waiter = await start(client, f"f-{n}", HolderJob(workspace_id="ws-f", reuse_key="f"))
        await until(functools.partial(_at, waiter, n - 1), f"waiter {n} queued")
        waiters.append(waiter)

    duplicate = KeyRequest(
        workspace_id="ws-f",
        reuse_key="f",
        requester_id="f-3",
        accepted_at=datetime.now(UTC),
        lease_seconds=60,
        task_queue=TASK_QUEUE,
    )
    await client.get_workflow_handle(lane_id("ws-f", "f")).signal(ACQUIRE_KEY, duplicate)
    await waiters[-1].cancel()
    with pytest.raises(WorkflowFailureError):
        await waiters[-1].result()

    async def canceled_left() -> bool:
        lane = await lane_state(client, "ws-f", "f")
        return [w.request.requester_id for w in lane.waiters] == ["f-2", "f-3", "f-4"]

    await until(canceled_left, "the canceled waiter left the queue, the duplicate was ignored")
    await first.signal(HolderWorkflow.finish)
    runs = await results([first, *waiters[:-1]])
    assert_one_at_a_time_in_acceptance_order(runs)
    assert runs[0].positions in ([], [1])  # 1 while its lane took a workspace slot
    assert [r.positions for r in runs[1:]] == [[1], [2, 1], [3, 2, 1]]


async def _at(holder: Holder, position: int) -> bool:
    return (await view(holder)).position == position
