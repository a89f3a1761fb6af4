"""OpenTelemetry: one trace from the API request to the browser; run metrics in Prometheus format.

An API and a worker of their own (own task queue, own workspace) with `OTEL_TRACES_EXPORTER=console`
and `WEBTASKS_METRICS_ADDRESS`, beside the session's stack on the same Temporal and data directory.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.automations import DIRECTORY_PAGE
from tests.conftest import Stack, _spawn, _stop, free_port, wait_for
from tests.sites import Site
from webtasks.store import LocalStore
from webtasks.store.workspaces import WorkspaceStore


@dataclass
class Traced:
    api: httpx.Client
    worker_log: Path
    api_log: Path
    metrics_url: str


def spans(log: Path) -> list[dict[str, Any]]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith('{"name"'):
            found.append(json.loads(line))
    return found


@pytest.fixture
def traced(stack: Stack, tmp_path: Path) -> Iterator[Traced]:
    api_port, metrics_port = free_port(), free_port()
    common = {
        "WEBTASKS_TASK_QUEUE": f"traced-{secrets.token_hex(3)}",
        "WEBTASKS_API_PORT": str(api_port),
        "OTEL_TRACES_EXPORTER": "console",
    }
    worker_log, api_log = tmp_path / "worker.log", tmp_path / "api.log"
    worker = _spawn(
        stack.argv["worker"],
        {**stack.envs["worker"], **common, "WEBTASKS_METRICS_ADDRESS": f"127.0.0.1:{metrics_port}"},
        worker_log,
    )
    api_argv = [sys.executable, "-m", "uvicorn", "webtasks.api:app", "--host", "127.0.0.1", "--port", str(api_port)]
    api = _spawn(api_argv, {**stack.env, **common}, api_log)
    try:
        wait_for(lambda: "worker ready" in worker_log.read_text(), "the traced worker")
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{api_port}/readyz").status_code == 200, "the traced API")
        workspaces = WorkspaceStore(LocalStore(stack.data_dir, secret=b"unused", base_url=stack.base_url))
        name = f"traced-{secrets.token_hex(3)}"
        _, key = workspaces.create(name, allow_private_network=True)
        base = f"http://127.0.0.1:{api_port}/api/v1/workspace/{name}"
        with httpx.Client(base_url=base, headers={"x-api-key": key}, timeout=30) as http:
            yield Traced(http, worker_log, api_log, f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        _stop(api)
        _stop(worker)


def test_one_trace_from_the_api_to_the_browser_and_run_metrics(traced: Traced, site: Site) -> None:
    traced.api.put("/automations/traced-dir", json={"code": DIRECTORY_PAGE}).raise_for_status()
    started = traced.api.post(
        "/web-tasks/start", json={"task": "List permits", "startUrl": site.url, "reuseKey": "traced-dir"}
    )
    web_task_id = started.json()["webTaskId"]

    def finished() -> bool:
        return bool(traced.api.get(f"/web-tasks/{web_task_id}/result").json()["status"] == "completed")

    wait_for(finished, "the traced run", timeout=120)
    result = traced.api.get(f"/web-tasks/{web_task_id}/result").json()
    assert result["outcome"] == "success", result.get("error")

    def execution_traced() -> bool:
        return any(s["name"] == "sandbox: run the automation" for s in spans(traced.worker_log))

    wait_for(execution_traced, "the worker's spans")
    request = next(s for s in spans(traced.api_log) if s["name"].endswith("/web-tasks/start"))
    trace_id = request["context"]["trace_id"]
    in_trace = [s for s in spans(traced.api_log) + spans(traced.worker_log) if s["context"]["trace_id"] == trace_id]
    names = {s["name"] for s in in_trace}
    expected = {
        "StartWorkflow:WebTaskWorkflow",
        "RunWorkflow:WebTaskWorkflow",
        "RunActivity:execute_automation",
        "sandbox: run the automation",
        "RunActivity:persist_result",
    }
    assert expected <= names, f"missing from the request's trace: {expected - names}"
    browser = next(s for s in in_trace if s["name"] == "sandbox: run the automation")
    assert browser["attributes"]["webtasks.web_task_id"] == web_task_id
    assert browser["attributes"]["webtasks.reuse_key"] == "traced-dir"

    def run_counted() -> bool:
        text = httpx.get(traced.metrics_url).text
        return any(line.startswith("webtasks_runs") and 'outcome="success"' in line for line in text.splitlines())

    wait_for(run_counted, "webtasks_runs in the worker's metrics")
    metrics = httpx.get(traced.metrics_url).text
    assert "webtasks_attempts{" in metrics and 'kind="reuse"' in metrics
    assert "webtasks_queue_wait_seconds" in metrics and "webtasks_browser_seconds" in metrics
