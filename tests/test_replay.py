"""Recorded histories of representative runs replay against today's workflow code.

A change that breaks determinism (for runs already in flight when a new worker is deployed) fails
here. Histories under plain names were recorded by today's code; `v0-` ones before AI authoring and
`v1-` ones before key lanes, so the paths behind `workflow.patched` keep replaying. After the next
versioned change, rename today's files with the next prefix, then record anew with:

    WEBTASKS_RECORD_HISTORIES=1 python -m pytest tests/test_replay.py
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.automations import DIRECTORY_PAGE, HOLD, ROW_SCHEMA
from tests.conftest import Stack
from tests.sites import Site, start_site
from webtasks.lane_models import lane_id, workspace_entity_id
from webtasks.store import LocalStore
from webtasks.store.workspaces import WorkspaceStore
from workflows.lane import KeyLaneWorkflow
from workflows.web_task import WebTaskWorkflow
from workflows.workspace import WorkspaceWorkflow

HISTORIES = Path(__file__).parent / "histories"
RECORD = os.environ.get("WEBTASKS_RECORD_HISTORIES") == "1"
RUNS = {"reuse-success", "reuse-exception", "output-invalid", "rejected", "no-saved-code"}
AUTHORING = {"author-success", "repair-success", "model-rejected", "author-broken-then-good"}
QUEUEING = {"queued-behind", "canceled-pending", "canceled-started", "rate-limited"}
ENTITIES = {"lane", "workspace"}


async def replay(history: WorkflowHistory) -> None:
    replayer = Replayer(
        workflows=[WebTaskWorkflow, KeyLaneWorkflow, WorkspaceWorkflow], data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(history)


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    await replay(WorkflowHistory.from_json(path.stem, path.read_text()))


def test_histories_are_recorded() -> None:
    names = {p.stem for p in HISTORIES.glob("*.json")}
    assert names >= RUNS | AUTHORING | QUEUEING | ENTITIES, "today's code has recorded histories of every kind"
    assert {f"v1-{name}" for name in RUNS | AUTHORING} <= names, "runs recorded before key lanes still replay"
    assert {"v0-no-saved-code", "v0-reuse-exception"} <= names, "runs recorded before AI authoring still replay"


@pytest.mark.skipif(not RECORD, reason="set WEBTASKS_RECORD_HISTORIES=1 to re-record")
def test_record_histories(stack: Stack, site: Site) -> None:
    stack.push("replay-dir", DIRECTORY_PAGE, ROW_SCHEMA)
    stack.push("replay-broken", "async def run(page, params, ctx):\n    raise RuntimeError('boom')\n")
    directory = "Pull every permit of a category in the permit directory with status, fee and phone"
    repair_site = start_site()
    runs = {
        "author-success": {"task": directory, "startUrl": site.url, "parameters": {"category": "Salon"}},
        "author-broken-then-good": {
            "task": directory + " [broken-first]",
            "startUrl": site.url,
            "parameters": {"category": "Salon"},
        },
        "model-rejected": {"task": "Write a poem about permits", "startUrl": site.url},
        "reuse-success": {"task": "List permits", "startUrl": site.url, "reuseKey": "replay-dir"},
        "reuse-exception": {"task": "Fail", "reuseKey": "replay-broken"},
        "output-invalid": {
            "task": "List",
            "startUrl": site.url,
            "reuseKey": "replay-dir",
            "outputSchema": {"type": "object"},
        },
        "no-saved-code": {"task": "Nothing saved", "reuseKey": "replay-nothing"},
    }
    ids = {name: stack.run(body)["webTaskId"] for name, body in runs.items()}
    repair = {
        "task": directory,
        "startUrl": repair_site.url,
        "reuseKey": "replay-repair",
        "parameters": {"category": "Salon"},
    }
    stack.run(repair)
    repair_site.layout = "b"
    ids["repair-success"] = stack.run(repair)["webTaskId"]
    repair_site.close()
    workspaces = WorkspaceStore(LocalStore(stack.data_dir, secret=b"unused", base_url=stack.base_url))
    _, key = workspaces.create("replay-public")
    api = f"{stack.base_url}/api/v1/workspace/replay-public/web-tasks"
    started = httpx.post(f"{api}/start", json={"task": "t", "startUrl": site.url}, headers={"x-api-key": key})
    ids["rejected"] = started.json()["webTaskId"]
    ids.update(record_queueing(stack, workspaces))
    ids["lane"] = lane_id(stack.workspace_id, "replay-hold")
    ids["workspace"] = workspace_entity_id(stack.workspace_id)

    async def fetch() -> None:
        client = await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)
        for name, workflow_id in ids.items():
            handle = client.get_workflow_handle(workflow_id)
            await handle.result()
            history = await handle.fetch_history()
            await replay(history)
            (HISTORIES / f"{name}.json").write_text(history.to_json())

    asyncio.run(fetch())


def record_queueing(stack: Stack, workspaces: WorkspaceStore) -> dict[str, str]:
    """Runs that wait in their key's queue, are canceled waiting or running, or find no workspace slot."""
    stack.push("replay-hold", HOLD)
    stack.push("replay-cancel", HOLD)
    holder = stack.start({"task": "Hold", "reuseKey": "replay-hold", "parameters": {"hold": 3}})
    running = stack.start({"task": "Hold", "reuseKey": "replay-cancel", "parameters": {"hold": 60}})
    with stack.http() as http:
        wait_started(http, holder)
        queued = stack.start({"task": "Wait", "reuseKey": "replay-hold", "parameters": {"hold": 0}})
        wait_started(http, running)
        pending = stack.start({"task": "Wait", "reuseKey": "replay-cancel"})
        http.post(f"/web-tasks/{pending}/cancel").raise_for_status()
        http.post(f"/web-tasks/{running}/cancel").raise_for_status()
    name = f"replay-one-{secrets.token_hex(3)}"
    _, key = workspaces.create(name, allow_private_network=True, max_concurrent=1)
    with httpx.Client(
        base_url=f"{stack.base_url}/api/v1/workspace/{name}", headers={"x-api-key": key}, timeout=30
    ) as http:
        for reuse_key in ("first", "second"):
            http.put(f"/automations/{reuse_key}", json={"code": HOLD}).raise_for_status()
        first = http.post("/web-tasks/start", json={"task": "Hold", "reuseKey": "first"}).json()["webTaskId"]
        wait_started(http, first)
        limited = http.post("/web-tasks/start", json={"task": "Hold", "reuseKey": "second"}).json()["webTaskId"]
        assert wait_done(http, limited)["error"]["code"] == "workspace-rate-limited"
        wait_done(http, first)
    with stack.http() as http:
        for web_task_id in (holder, queued, pending, running):
            wait_done(http, web_task_id)
    return {"queued-behind": queued, "canceled-pending": pending, "canceled-started": running, "rate-limited": limited}


def wait_done(http: httpx.Client, web_task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while (body := http.get(f"/web-tasks/{web_task_id}/result").json())["status"] not in ("completed", "canceled"):
        assert time.monotonic() < deadline, f"{web_task_id} did not finish: {body}"
        time.sleep(0.1)
    return dict(body)


def wait_started(http: httpx.Client, web_task_id: str) -> None:
    deadline = time.monotonic() + 60
    while http.get(f"/web-tasks/{web_task_id}/result").json()["status"] == "pending":
        assert time.monotonic() < deadline, f"{web_task_id} never started"
        time.sleep(0.1)
