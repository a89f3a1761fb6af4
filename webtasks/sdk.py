"""Python SDK: `Client` and `AsyncClient`, typed with the same models the API uses.

    from webtasks import Client

    with Client() as client:                    # reads the local workspace's credentials
        result = client.run("List every permit", start_url="https://…", reuse_key="permits")
        print(result.status, result.result)

Without arguments the client uses `WEBTASKS_URL`, `WEBTASKS_API_KEY` and `WEBTASKS_WORKSPACE`, else the
credentials file that the embedded stack writes on first start (`<data dir>/credentials.json`).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import httpx

from webtasks.config import settings
from webtasks.models import (
    AutomationDetail,
    AutomationList,
    PutAutomationRequest,
    RevisionSummary,
    RollbackRequest,
    StartRequest,
    StartResponse,
    WebTaskResult,
)
from webtasks.store.workspaces import read_credentials

TERMINAL = ("completed", "canceled")


class WebtasksError(Exception):
    """An HTTP error from the API, with its error body (`code`, `message`, `details`)."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        self.status_code = status_code
        self.code = str(body.get("code", "error"))
        self.details = body.get("details")
        self.body = body
        super().__init__(f"{status_code} {self.code}: {body.get('message', '')}")


def _resolve(base_url: str | None, api_key: str | None, workspace_id: str | None) -> tuple[str, str, str]:
    creds = read_credentials(settings().credentials_file) or {}
    base = base_url or os.environ.get("WEBTASKS_URL") or creds.get("baseUrl") or settings().base_url
    key = api_key or os.environ.get("WEBTASKS_API_KEY") or creds.get("apiKey")
    workspace = workspace_id or os.environ.get("WEBTASKS_WORKSPACE") or creds.get("workspaceId") or "local"
    if not key:
        raise WebtasksError(
            401,
            {
                "code": "unauthorized",
                "message": "no API key: pass api_key=, set WEBTASKS_API_KEY, or run `webtasks up` once",
            },
        )
    return base.rstrip("/"), key, workspace


def _connection(
    base_url: str | None, api_key: str | None, workspace_id: str | None, timeout: float
) -> tuple[str, str, dict[str, Any]]:
    base, key, workspace = _resolve(base_url, api_key, workspace_id)
    options = {"base_url": f"{base}/api/v1/workspace/{workspace}", "headers": {"x-api-key": key}, "timeout": timeout}
    return base, workspace, options


def _body(task: str | StartRequest, fields: dict[str, Any]) -> dict[str, Any]:
    request = task if isinstance(task, StartRequest) else StartRequest(task=task, **fields)
    body = request.wire(exclude_none=True)
    if request.anthropic_api_key is not None:
        body["anthropicApiKey"] = request.anthropic_api_key.get_secret_value()
    return body


def _check(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = {"code": "error", "message": response.text[:500]}
    if response.status_code >= 400:
        raise WebtasksError(response.status_code, body)
    return dict(body)


class Client:
    """Synchronous client. `run()` starts a task and polls until it is completed or canceled."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        workspace_id: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url, self.workspace_id, options = _connection(base_url, api_key, workspace_id, timeout)
        self._http = httpx.Client(**options)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def start(self, task: str | StartRequest, **fields: Any) -> StartResponse:
        """Start a run; `fields` are `StartRequest` fields (`start_url`, `parameters`, `reuse_key`, …)."""
        return StartResponse.model_validate(_check(self._http.post("/web-tasks/start", json=_body(task, fields))))

    def result(self, web_task_id: str) -> WebTaskResult:
        return WebTaskResult.model_validate(_check(self._http.get(f"/web-tasks/{web_task_id}/result")))

    def cancel(self, web_task_id: str) -> dict[str, Any]:
        return _check(self._http.post(f"/web-tasks/{web_task_id}/cancel"))

    def push_automation(
        self, reuse_key: str, code: str, output_schema: dict[str, Any] | None = None
    ) -> RevisionSummary:
        """Save your own code as the key's new current revision."""
        body = PutAutomationRequest(code=code, output_schema=output_schema).wire(exclude_none=True)
        return RevisionSummary.model_validate(_check(self._http.put(f"/automations/{reuse_key}", json=body)))

    def automation(self, reuse_key: str) -> AutomationDetail:
        return AutomationDetail.model_validate(_check(self._http.get(f"/automations/{reuse_key}")))

    def automations(self) -> AutomationList:
        return AutomationList.model_validate(_check(self._http.get("/automations")))

    def rollback(self, reuse_key: str, revision_id: str) -> RevisionSummary:
        body = RollbackRequest(revision_id=revision_id).wire()
        return RevisionSummary.model_validate(_check(self._http.post(f"/automations/{reuse_key}/rollback", json=body)))

    def run(
        self, task: str | StartRequest, *, poll_interval: float = 5.0, timeout: float | None = None, **fields: Any
    ) -> WebTaskResult:
        """Start a run and wait for it to end; raises `TimeoutError` only if `timeout` passes first."""
        started = self.start(task, **fields)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            current = self.result(started.web_task_id)
            if current.status in TERMINAL:
                return current
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"web task {started.web_task_id} still {current.status} after {timeout}s")
            time.sleep(poll_interval)


class AsyncClient:
    """Asynchronous twin of `Client`."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        workspace_id: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url, self.workspace_id, options = _connection(base_url, api_key, workspace_id, timeout)
        self._http = httpx.AsyncClient(**options)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def start(self, task: str | StartRequest, **fields: Any) -> StartResponse:
        response = await self._http.post("/web-tasks/start", json=_body(task, fields))
        return StartResponse.model_validate(_check(response))

    async def result(self, web_task_id: str) -> WebTaskResult:
        return WebTaskResult.model_validate(_check(await self._http.get(f"/web-tasks/{web_task_id}/result")))

    async def cancel(self, web_task_id: str) -> dict[str, Any]:
        return _check(await self._http.post(f"/web-tasks/{web_task_id}/cancel"))

    async def run(
        self, task: str | StartRequest, *, poll_interval: float = 5.0, timeout: float | None = None, **fields: Any
    ) -> WebTaskResult:
        started = await self.start(task, **fields)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            current = await self.result(started.web_task_id)
            if current.status in TERMINAL:
                return current
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"web task {started.web_task_id} still {current.status} after {timeout}s")
            await asyncio.sleep(poll_interval)
