"""Runs of one reuseKey never overlap and keep acceptance order; keys run in parallel; slots; cancel."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
from temporalio.client import Client

from tests.conftest import Stack
from webtasks.store import LocalStore
from webtasks.store.workspaces import WorkspaceStore

# The automation records its own execution window, as measured inside the sandbox.
WINDOW = """
import asyncio, time

async def run(page, params, ctx):
    start = time.time()
    await asyncio.sleep(params.get("hold", 0.2))
    return {"start": start, "end": time.time(), "n": params.get("n")}
"""


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def start_all(stack: Stack, bodies: list[dict[str, Any]], threads: int = 6) -> list[str]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(stack.start, bodies))


def finish_all(stack: Stack, ids: list[str], timeout: float = 240) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: stack.wait(i, timeout), ids))


def test_one_key_runs_one_at_a_time_in_acceptance_order(stack: Stack) -> None:
    key = f"serial-{secrets.token_hex(3)}"
    stack.push(key, WINDOW)
    with stack.second_worker():
        ids = start_all(stack, [{"task": "Hold the key", "reuseKey": key, "parameters": {"n": i}} for i in range(30)])
        results = finish_all(stack, ids)
    assert all(r["outcome"] == "success" for r in results), [r.get("error") for r in results]
    by_acceptance = sorted(results, key=lambda r: ts(r["createdAt"]))
    windows = [r["result"]["data"] for r in by_acceptance]
    for earlier, later in itertools.pairwise(windows):
        assert earlier["end"] <= later["start"], f"runs {earlier['n']} and {later['n']} overlapped"
    starts = [w["start"] for w in windows]
    assert starts == sorted(starts), "runs did not execute in the order they were accepted"


def test_different_keys_run_in_parallel(stack: Stack) -> None:
    keys = [f"parallel-{i}-{secrets.token_hex(3)}" for i in range(3)]
    for key in keys:
        stack.push(key, WINDOW)
    ids = start_all(stack, [{"task": "Hold", "reuseKey": key, "parameters": {"hold": 10}} for key in keys])
    windows = [r["result"]["data"] for r in finish_all(stack, ids)]
    assert max(w["start"] for w in windows) < min(w["end"] for w in windows), "the keys' runs did not overlap"


def test_workspace_slots(stack: Stack) -> None:
    workspaces = WorkspaceStore(LocalStore(stack.data_dir, secret=b"unused", base_url=stack.base_url))
    name = f"three-{secrets.token_hex(3)}"
    _, api_key = workspaces.create(name, allow_private_network=True, max_concurrent=3)
    api = httpx.Client(base_url=f"{stack.base_url}/api/v1/workspace/{name}", headers={"x-api-key": api_key}, timeout=30)
    keys = [f"slot-{i}" for i in range(5)]
    with api:
        for key in keys:
            api.put(f"/automations/{key}", json={"code": WINDOW}).raise_for_status()

        def start(key: str) -> str:
            body = {"task": "Hold a slot", "reuseKey": key, "parameters": {"hold": 8}}
            return str(api.post("/web-tasks/start", json=body).json()["webTaskId"])

        with ThreadPoolExecutor(5) as pool:
            ids = list(pool.map(start, keys))
        results = [_wait(api, i) for i in ids]
        ok = [r for r, key in zip(results, keys, strict=True) if r["outcome"] == "success"]
        limited = [r for r in results if r["outcome"] == "failed"]
        assert len(ok) == 3 and len(limited) == 2, [r.get("error") for r in results]
        for refused in limited:
            assert refused["error"]["code"] == "workspace-rate-limited"
            assert refused["error"]["details"] == {"limit": 3, "active": 3}
            assert refused["startedAt"] is None and refused["attempts"] == []

        active_key = keys[results.index(ok[0])]
        first = start(active_key)
        second = start(active_key)
        queued = _wait(api, second)
        assert _wait(api, first)["outcome"] == "success"
        assert queued["outcome"] == "success", "a second run of an active key must queue, not fail"


def _wait(api: httpx.Client, web_task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body = api.get(f"/web-tasks/{web_task_id}/result").json()
        if body["status"] in ("completed", "canceled"):
            return dict(body)
        time.sleep(0.2)
    raise TimeoutError(web_task_id)


def test_pending_runs_report_their_queue_position(stack: Stack) -> None:
    key = f"queue-{secrets.token_hex(3)}"
    stack.push(key, WINDOW)
    holder = stack.start({"task": "Hold", "reuseKey": key, "parameters": {"hold": 6}})
    waiters = [stack.start({"task": "Wait", "reuseKey": key}) for _ in range(2)]
    seen: set[int] = set()
    with stack.http() as http:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and seen != {1, 2}:
            body = http.get(f"/web-tasks/{waiters[1]}/result").json()
            if body["status"] == "pending" and body.get("queuePosition"):
                seen.add(body["queuePosition"])
            time.sleep(0.1)
    assert 2 in seen, "the second waiter never showed queuePosition 2"
    assert all(r["outcome"] == "success" for r in finish_all(stack, [holder, *waiters]))


def test_cancel_pending_and_started_runs(stack: Stack) -> None:
    key = f"cancel-{secrets.token_hex(3)}"
    revision = stack.push(
        key,
        WINDOW.replace(
            "await asyncio.sleep",
            "import subprocess\n    subprocess.Popen(['sleep', '3131.5'])\n    await asyncio.sleep",
        ),
    )
    started = stack.start({"task": "Hold", "reuseKey": key, "parameters": {"hold": 120}})
    pending = stack.start({"task": "Wait", "reuseKey": key})
    after = stack.start({"task": "After", "reuseKey": key})
    with stack.http() as http:
        for _ in range(300):
            if http.get(f"/web-tasks/{started}/result").json()["status"] == "started":
                break
            time.sleep(0.1)
        _wait_for_process("sleep 3131.5", present=True)
        assert http.post(f"/web-tasks/{pending}/cancel").json() == {"webTaskId": pending, "status": "canceled"}
        assert http.post(f"/web-tasks/{started}/cancel").status_code == 200
    canceled_pending, canceled_started = stack.wait(pending), stack.wait(started)
    assert canceled_pending["status"] == "canceled" and canceled_pending["startedAt"] is None
    assert canceled_started["status"] == "canceled" and canceled_started["startedAt"], canceled_started.get("error")
    _wait_for_process("sleep 3131.5", present=False)
    moved_on = stack.wait(after)
    assert moved_on["outcome"] == "success", "the key did not pass to the next run"
    with stack.http() as http:
        assert http.get(f"/automations/{key}").json()["current"]["revisionId"] == revision
        again = http.post(f"/web-tasks/{after}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "already-completed"


def _wait_for_process(pattern: str, present: bool, timeout: float = 30) -> None:
    import subprocess

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0
        if found == present:
            return
        time.sleep(0.2)
    raise AssertionError(f"process {pattern!r} {'never appeared' if present else 'was not killed'}")


def test_a_terminated_holder_frees_its_key(stack: Stack) -> None:
    key = f"terminated-{secrets.token_hex(3)}"
    stack.push(key, WINDOW)
    holder = stack.start({"task": "Hold", "reuseKey": key, "parameters": {"hold": 300}, "timeoutSeconds": 600})
    with stack.http() as http:
        for _ in range(300):
            if http.get(f"/web-tasks/{holder}/result").json()["status"] == "started":
                break
            time.sleep(0.1)
    waiting = stack.start({"task": "Next", "reuseKey": key})

    async def terminate() -> None:
        client = await Client.connect(stack.temporal_address)
        await client.get_workflow_handle(holder).terminate(reason="test: operator terminated the holder")

    asyncio.run(terminate())
    terminated_at = time.time()
    result = stack.wait(waiting, timeout=120)
    assert result["outcome"] == "success"
    lease = 600 + 60
    assert ts(result["startedAt"]) - terminated_at < lease
    assert ts(result["startedAt"]) - terminated_at < 30, "the lane should notice a terminated holder in seconds"
