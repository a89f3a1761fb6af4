"""Step 2: start URLs on private networks are refused unless the workspace allows them."""

from __future__ import annotations

import time

import httpx

from tests.conftest import Stack
from tests.sites import Site
from webtasks.store import LocalStore
from webtasks.store.workspaces import WorkspaceStore


def test_private_start_url_is_rejected_outside_the_local_workspace(stack: Stack, site: Site) -> None:
    workspaces = WorkspaceStore(LocalStore(stack.data_dir, secret=b"unused", base_url=stack.base_url))
    _, key = workspaces.create("public-only")
    api = f"{stack.base_url}/api/v1/workspace/public-only"
    started = httpx.post(f"{api}/web-tasks/start", json={"task": "t", "startUrl": site.url}, headers={"x-api-key": key})
    assert started.status_code == 200
    web_task_id = started.json()["webTaskId"]
    body: dict[str, object] = {}
    for _ in range(300):
        body = httpx.get(f"{api}/web-tasks/{web_task_id}/result", headers={"x-api-key": key}).json()
        if body["status"] == "completed":
            break
        time.sleep(0.1)
    assert body["outcome"] == "failed"
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == "rejected"
    assert "127.0.0.1" in error["message"] and "allow-private-network" in error["message"]
    assert body["startedAt"] is None and body["attempts"] == []


def test_listing_runs_newest_first(stack: Stack) -> None:
    stack.push("listed", "async def run(page, params, ctx):\n    return params\n")
    first = stack.run({"task": "one", "reuseKey": "listed", "parameters": {"n": 1}})
    second = stack.run({"task": "two", "reuseKey": "listed", "parameters": {"n": 2}})
    with stack.http() as http:
        page = http.get("/web-tasks", params={"reuseKey": "listed", "limit": 1}).json()
        assert [item["webTaskId"] for item in page["items"]] == [second["webTaskId"]]
        rest = http.get("/web-tasks", params={"reuseKey": "listed", "limit": 1, "cursor": page["nextCursor"]}).json()
        assert [item["webTaskId"] for item in rest["items"]] == [first["webTaskId"]]
        completed = http.get("/web-tasks", params={"reuseKey": "listed", "status": "completed"}).json()
        assert len(completed["items"]) == 2
