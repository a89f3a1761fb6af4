"""OpenTelemetry: one trace from the API request to the browser; run metrics in Prometheus format.

An API and a worker of their own (own task queue, own workspace) beside the session's stack, on the
same Temporal and data directory: the API prints its spans (`OTEL_TRACES_EXPORTER=console`), the
worker sends its spans over OTLP/HTTP to a collector on loopback and serves metrics
(`WEBTASKS_METRICS_ADDRESS`).
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.automations import DIRECTORY_PAGE
from tests.conftest import Stack, _spawn, _stop, free_port, wait_for
from tests.sites import Site
from webtasks.store import LocalStore
from webtasks.store.workspaces import WorkspaceStore


@dataclass
class Collector:
    """An OTLP/HTTP trace endpoint on loopback that keeps (name, trace id, attributes) of every span."""

    spans: list[dict[str, Any]] = field(default_factory=list)

    def serve(self) -> ThreadingHTTPServer:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = ExportTraceServiceRequest()
                request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            attributes = {a.key: _value(a.value) for a in span.attributes}
                            collector.spans.append(
                                {"name": span.name, "trace_id": span.trace_id.hex(), "attributes": attributes}
                            )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def _value(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


@dataclass
class Traced:
    api: httpx.Client
    api_log: Path
    collector: Collector
    metrics_url: str


def console_spans(log: Path) -> list[dict[str, Any]]:
    """The API's spans, as the console exporter prints them: one JSON object a line."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith('{"name"'):
            span = json.loads(line)
            found.append({**span, "trace_id": span["context"]["trace_id"].removeprefix("0x")})
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
    collector = Collector()
    server = collector.serve()
    worker_env = {
        **stack.envs["worker"],
        **common,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "WEBTASKS_METRICS_ADDRESS": f"127.0.0.1:{metrics_port}",
    }
    worker = _spawn(stack.argv["worker"], worker_env, worker_log)
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
            yield Traced(http, api_log, collector, f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        _stop(api)
        _stop(worker)
        server.shutdown()


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
        return any(s["name"] == "RunActivity:persist_result" for s in traced.collector.spans)

    wait_for(execution_traced, "the worker's spans at the collector")
    request = next(s for s in console_spans(traced.api_log) if s["name"].endswith("/web-tasks/start"))
    trace_id = request["trace_id"]
    in_trace = [s for s in console_spans(traced.api_log) + traced.collector.spans if s["trace_id"] == trace_id]
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
