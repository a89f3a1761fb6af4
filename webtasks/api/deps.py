"""Request dependencies: the caller's workspace (from `x-api-key`), Temporal, the stores."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from temporalio.client import Client

from webtasks.api.errors import ApiError
from webtasks.config import settings
from webtasks.store import StoreUnavailable, get_store
from webtasks.store.workspaces import WorkspaceStore
from webtasks.temporal import connect

RATE_PER_SECOND = 50.0
RATE_BURST = 200.0


class TemporalConnection:
    """One client per API process, connected lazily so the API can start before Temporal does."""

    def __init__(self) -> None:
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(connect(), timeout=5)
                except Exception as exc:
                    raise ApiError(
                        503, f"Temporal at {settings().temporal_address} is not reachable; the request was not accepted"
                    ) from exc
            return self._client


class RateLimiter:
    """A token bucket per API key, so one runaway caller cannot starve the others."""

    def __init__(self, rate: float = RATE_PER_SECOND, burst: float = RATE_BURST) -> None:
        self._rate, self._burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1:
            raise ApiError(
                429, f"more than {self._rate:.0f} requests per second with this API key; slow down and retry"
            )
        self._buckets[key] = (tokens - 1, now)


async def temporal(request: Request) -> Client:
    connection: TemporalConnection = request.app.state.temporal
    return await connection.get()


def workspace_id(
    request: Request,
    workspace: Annotated[str, Path(alias="workspaceId")],
    x_api_key: Annotated[str | None, Header(alias="x-api-key")] = None,
) -> str:
    """The path's workspace, if the key belongs to it; 401 otherwise (unknown workspaces included)."""
    if not x_api_key:
        raise ApiError(401, "missing x-api-key header; send the workspace's API key (see `webtasks workspace keys`)")
    try:
        owner = WorkspaceStore(get_store()).authenticate(x_api_key)
    except StoreUnavailable as exc:
        raise ApiError(503, "the store is not reachable; the request was not accepted") from exc
    if owner is None or owner != workspace:
        raise ApiError(401, f"this API key does not give access to workspace {workspace!r}")
    request.app.state.rate_limiter.check(x_api_key)
    return workspace


Workspace = Annotated[str, Depends(workspace_id)]
Temporal = Annotated[Client, Depends(temporal)]
