"""Helpers shared by the entity workflows (the key lane and the workspace) and the run's `LaneTicket`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError


async def signal_running(workflow_id: str, name: str, arg: Any) -> bool:
    """Signal a running workflow; False when it has closed (it then no longer needs to hear)."""
    try:
        await workflow.get_external_workflow_handle(workflow_id).signal(name, arg)
    except FailureError as exc:
        workflow.logger.info("signal %s to %s not delivered: %s", name, workflow_id, exc)
        return False
    return True


async def wait_until(condition: Callable[[], bool], timeout: timedelta | None) -> bool:
    """`wait_condition` with an optional timeout; False when the time ran out first."""
    if timeout is not None and timeout <= timedelta(0):
        return condition()
    try:
        await workflow.wait_condition(condition, timeout=timeout)
    except TimeoutError:
        return False
    return True


class Outbox:
    """Signals on their way to other workflows, sent without holding up the entity's loop.

    An entity hands a key or slot on in the same workflow task that learns it is free, instead of
    waiting a round trip for each delivery. It must wait for `empty` before it closes or continues
    as new, so every send resolves in the run that made it. `on_settled` runs after each delivery.
    """

    def __init__(self, on_settled: Callable[[], None]) -> None:
        self._on_settled = on_settled
        self._sending: dict[int, asyncio.Task[None]] = {}
        self._next = 0

    @property
    def empty(self) -> bool:
        return not self._sending

    def send(self, workflow_id: str, name: str, arg: Any, on_gone: Callable[[], None] | None = None) -> None:
        """Signal `workflow_id`; `on_gone` runs if it has closed."""
        self._next += 1
        self._sending[self._next] = asyncio.create_task(self._deliver(self._next, workflow_id, name, arg, on_gone))

    async def _deliver(
        self, number: int, workflow_id: str, name: str, arg: Any, on_gone: Callable[[], None] | None
    ) -> None:
        try:
            if not await signal_running(workflow_id, name, arg) and on_gone is not None:
                on_gone()
        finally:
            del self._sending[number]
            self._on_settled()
