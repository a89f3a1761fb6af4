"""Crashes: a worker killed mid-run, the Temporal server restarted; every accepted run still ends once."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import Stack


def started_count(stack: Stack, ids: list[str]) -> int:
    with stack.http() as http:
        return sum(http.get(f"/web-tasks/{i}/result").json()["status"] == "started" for i in ids)


def finish_all(stack: Stack, ids: list[str]) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: stack.wait(i, 240), ids))


def test_killed_worker_runs_finish_on_a_new_worker(stack: Stack, site: Any) -> None:
    tag = secrets.token_hex(3)
    keys = [f"crash-{tag}-{i}" for i in range(9)]
    bodies = [{"task": f"Hold the key [hold] {tag}", "reuseKey": key, "parameters": {"hold": 3}} for key in keys]
    bodies.append({**bodies[0], "parameters": {"hold": 1}})  # a second run of one key: it must wait its turn
    with ThreadPoolExecutor(5) as pool:
        ids = list(pool.map(stack.start, bodies))
    deadline = time.monotonic() + 60
    while started_count(stack, ids) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started_count(stack, ids) >= 3, "runs never got going"
    stack.kill("worker")
    stack.start_process("worker")
    results = finish_all(stack, ids)
    assert [r["status"] for r in results] == ["completed"] * 10
    assert all(r["outcome"] == "success" for r in results), [r.get("error") for r in results]
    with stack.http() as http:
        for key in keys:
            revisions = http.get(f"/automations/{key}").json()["revisions"]
            assert len(revisions) == 1, f"{key} has {len(revisions)} revisions: a save ran twice"
    same_key = sorted((results[0]["result"]["data"], results[9]["result"]["data"]), key=lambda w: w["start"])
    assert same_key[0]["end"] <= same_key[1]["start"], "two runs of one key overlapped"


def test_runs_queued_across_a_temporal_restart_complete(stack: Stack) -> None:
    key = f"restart-{secrets.token_hex(3)}"
    stack.push(
        key, "import asyncio\nasync def run(page, params, ctx):\n    await asyncio.sleep(1)\n    return params\n"
    )
    ids = [stack.start({"task": "Queue up", "reuseKey": key, "parameters": {"n": i}}) for i in range(5)]
    stack.restart("temporal")
    results = finish_all(stack, ids)
    assert [r["outcome"] for r in results] == ["success"] * 5, [r.get("error") for r in results]
    assert [r["result"]["data"]["n"] for r in results] == list(range(5))
    assert httpx.get(f"{stack.base_url}/readyz").status_code == 200
