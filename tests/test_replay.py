"""Recorded histories of representative runs replay against today's workflow code.

A change that breaks determinism (for runs already in flight when a new worker is deployed) fails
here. Re-record after an intended, versioned change with:

    WEBTASKS_RECORD_HISTORIES=1 python -m pytest tests/test_replay.py
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.automations import DIRECTORY_PAGE, ROW_SCHEMA
from tests.conftest import Stack
from tests.sites import Site, start_site
from webtasks.store import LocalStore
from webtasks.store.workspaces import WorkspaceStore
from workflows.web_task import WebTaskWorkflow

HISTORIES = Path(__file__).parent / "histories"
RECORD = os.environ.get("WEBTASKS_RECORD_HISTORIES") == "1"


async def replay(history: WorkflowHistory) -> None:
    replayer = Replayer(workflows=[WebTaskWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    await replay(WorkflowHistory.from_json(path.stem, path.read_text()))


def test_histories_are_recorded() -> None:
    names = {p.stem for p in HISTORIES.glob("*.json")}
    assert {"reuse-success", "reuse-exception", "output-invalid", "rejected", "no-saved-code"} <= names
    assert {"author-success", "repair-success", "model-rejected", "author-broken-then-good"} <= names
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

    async def fetch() -> None:
        client = await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)
        for name, web_task_id in ids.items():
            handle = client.get_workflow_handle(web_task_id)
            await handle.result()
            history = await handle.fetch_history()
            await replay(history)
            (HISTORIES / f"{name}.json").write_text(history.to_json())

    asyncio.run(fetch())
