"""Heartbeats for long activities, sent from the start: waiting for a sandbox slot counts as work too.

A short heartbeat timeout lets Temporal notice a dead worker in seconds; cancellation reaches the
activity through the heartbeat response.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity

HEARTBEAT_SECONDS = 2.0


@contextlib.asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_SECONDS)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
