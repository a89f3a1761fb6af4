"""Every bad input of api.md gets its 4xx code and a JSON body that says what to fix; nothing starts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from tests.conftest import Stack
from webtasks.store import LocalStore
from webtasks.store.workspaces import WorkspaceStore


def count_runs(stack: Stack) -> int:
    """Every run ever started on the test server, counted by Temporal itself."""

    async def count() -> int:
        client = await Client.connect(stack.temporal_address)
        return (await client.count_workflows("WorkflowType = 'WebTaskWorkflow'")).count

    return asyncio.run(count())


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with stack.http() as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str, category: str = "user") -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["category"] == category
    assert body["message"] and isinstance(body["message"], str)
    assert body["correlationId"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return dict(body)


INVALID_BODIES = [
    ({"task": ""}, "task"),
    ({"task": "   "}, "task"),
    ({"task": "x" * 20_001}, "task"),
    ({}, "task"),
    ({"task": 5}, "task"),
    ({"task": "t", "startUrl": "ftp://example.com/"}, "startUrl"),
    ({"task": "t", "startUrl": "example.com"}, "startUrl"),
    ({"task": "t", "parameters": [1, 2]}, "parameters"),
    ({"task": "t", "parameters": {"blob": "x" * (257 * 1024)}}, "parameters"),
    ({"task": "t", "outputSchema": {"type": "not-a-type"}}, "outputSchema"),
    ({"task": "t", "outputSchema": "array"}, "outputSchema"),
    ({"task": "t", "outputSchema": {"description": "x" * (257 * 1024)}}, "outputSchema"),
    ({"task": "t", "reuseKey": "-starts-with-dash"}, "reuseKey"),
    ({"task": "t", "reuseKey": "has space"}, "reuseKey"),
    ({"task": "t", "reuseKey": "k" * 129}, "reuseKey"),
    ({"task": "t", "model": "gpt"}, "model"),
    ({"task": "t", "proxy": "not a url"}, "proxy"),
    ({"task": "t", "timeoutSeconds": 5}, "timeoutSeconds"),
    ({"task": "t", "timeoutSeconds": 7201}, "timeoutSeconds"),
    ({"task": "t", "timeoutSeconds": "soon"}, "timeoutSeconds"),
]


@pytest.mark.parametrize(("body", "field"), INVALID_BODIES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(INVALID_BODIES)])
def test_invalid_fields_are_422_with_what_to_fix(
    stack: Stack, http: httpx.Client, body: dict[str, Any], field: str
) -> None:
    before = count_runs(stack)
    error = assert_error(http.post("/web-tasks/start", json=body), 422, "invalid-request")
    assert [d["field"] for d in error["details"]] == [field]
    assert error["details"][0]["message"]
    assert field in error["message"]
    assert count_runs(stack) == before


def test_auth_field_is_unsupported(stack: Stack, http: httpx.Client) -> None:
    before = count_runs(stack)
    error = assert_error(http.post("/web-tasks/start", json={"task": "t", "auth": "as_123"}), 422, "unsupported-field")
    assert "auth" in error["message"]
    assert count_runs(stack) == before


def test_unknown_fields_are_ignored(stack: Stack, http: httpx.Client) -> None:
    stack.push("unknown-fields", "async def run(page, params, ctx):\n    return 1\n")
    response = http.post("/web-tasks/start", json={"task": "t", "reuseKey": "unknown-fields", "colour": "blue"})
    assert response.status_code == 200
    assert stack.wait(response.json()["webTaskId"])["outcome"] == "success"
    assert response.json()["reuse"] == {"key": "unknown-fields"}
    assert response.json()["status"] == "pending" and response.json()["webTaskId"].startswith("wt_")


@pytest.mark.parametrize("raw", [b"{not json", b'{"task": "t",}', b""])
def test_malformed_json_is_400(stack: Stack, http: httpx.Client, raw: bytes) -> None:
    before = count_runs(stack)
    response = http.post("/web-tasks/start", content=raw, headers={"content-type": "application/json"})
    error = assert_error(response, 400, "bad-request")
    assert "JSON" in error["message"]
    assert count_runs(stack) == before


def test_body_not_an_object_is_400(http: httpx.Client) -> None:
    assert_error(http.post("/web-tasks/start", json=["task"]), 400, "bad-request")


def test_body_over_one_mebibyte_is_413(stack: Stack, http: httpx.Client) -> None:
    before = count_runs(stack)
    body = json.dumps({"task": "t", "parameters": {"x": "y" * (1024 * 1024)}}).encode()
    assert_error(
        http.post("/web-tasks/start", content=body, headers={"content-type": "application/json"}),
        413,
        "payload-too-large",
    )

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    streamed = http.post("/web-tasks/start", content=chunks(), headers={"content-type": "application/json"})
    assert_error(streamed, 413, "payload-too-large")
    assert count_runs(stack) == before


def test_missing_and_wrong_keys_are_401(stack: Stack) -> None:
    before = count_runs(stack)
    body = {"task": "t"}
    missing = httpx.post(f"{stack.api}/web-tasks/start", json=body)
    assert "x-api-key" in assert_error(missing, 401, "unauthorized", "auth")["message"]
    wrong = httpx.post(f"{stack.api}/web-tasks/start", json=body, headers={"x-api-key": "wtk_nope"})
    assert_error(wrong, 401, "unauthorized", "auth")
    unknown_workspace = httpx.post(
        f"{stack.base_url}/api/v1/workspace/nowhere/web-tasks/start", json=body, headers={"x-api-key": stack.api_key}
    )
    assert_error(unknown_workspace, 401, "unauthorized", "auth")
    assert count_runs(stack) == before


def test_a_key_of_another_workspace_is_401_and_its_runs_are_404(stack: Stack) -> None:
    workspaces = WorkspaceStore(LocalStore(stack.data_dir, secret=b"unused", base_url=stack.base_url))
    _, other_key = workspaces.create("other-team")
    other = f"{stack.base_url}/api/v1/workspace/other-team"
    stack.push("belongs-to-local", "async def run(page, params, ctx):\n    return 1\n")
    local_run = stack.start({"task": "t", "reuseKey": "belongs-to-local"})
    cross = httpx.post(f"{stack.api}/web-tasks/start", json={"task": "t"}, headers={"x-api-key": other_key})
    assert_error(cross, 401, "unauthorized", "auth")
    hidden = httpx.get(f"{other}/web-tasks/{local_run}/result", headers={"x-api-key": other_key})
    assert_error(hidden, 404, "not-found")
    stack.wait(local_run)


def test_unknown_run_is_404(http: httpx.Client) -> None:
    error = assert_error(http.get("/web-tasks/wt_doesnotexist/result"), 404, "not-found")
    assert "wt_doesnotexist" in error["message"]
    assert_error(http.post("/web-tasks/wt_doesnotexist/cancel"), 404, "not-found")


def test_unknown_path_is_404_json(stack: Stack) -> None:
    assert_error(httpx.get(f"{stack.base_url}/api/v1/nothing-here"), 404, "not-found")


def test_list_rejects_an_unknown_status(http: httpx.Client) -> None:
    assert_error(http.get("/web-tasks", params={"status": "weird"}), 422, "invalid-request")
    assert_error(http.get("/web-tasks", params={"limit": 1000}), 422, "invalid-request")


def test_automation_errors(http: httpx.Client) -> None:
    syntax = assert_error(http.put("/automations/bad-code", json={"code": "def run(:\n"}), 422, "invalid-request")
    assert "compile" in syntax["message"]
    no_entry = assert_error(http.put("/automations/bad-code", json={"code": "x = 1\n"}), 422, "invalid-request")
    assert "async def run" in no_entry["message"]
    sync_entry = assert_error(
        http.put("/automations/bad-code", json={"code": "def run(page, params, ctx):\n    pass\n"}),
        422,
        "invalid-request",
    )
    assert "coroutine" in sync_entry["message"]
    bad_schema = http.put(
        "/automations/bad-code",
        json={"code": "async def run(page, params, ctx):\n    return 1\n", "outputSchema": {"type": 3}},
    )
    assert_error(bad_schema, 422, "invalid-request")
    assert_error(http.get("/automations/bad-code"), 404, "not-found")
    assert_error(
        http.put("/automations/bad key!", json={"code": "async def run(p, q, c): pass"}), 422, "invalid-request"
    )
    assert_error(http.post("/automations/bad-code/rollback", json={"revisionId": "rev_nope"}), 404, "not-found")
    assert_error(http.post("/automations/bad-code/rollback", json={}), 422, "invalid-request")


def test_errors_carry_the_callers_correlation_id(http: httpx.Client) -> None:
    response = http.get("/web-tasks/wt_missing/result", headers={"x-correlation-id": "trace-me-123"})
    assert response.json()["correlationId"] == "trace-me-123"
    assert response.headers["x-correlation-id"] == "trace-me-123"


def test_openapi_and_health(stack: Stack) -> None:
    spec = httpx.get(f"{stack.base_url}/openapi.json").json()
    assert "/api/v1/workspace/{workspaceId}/web-tasks/start" in spec["paths"]
    assert httpx.get(f"{stack.base_url}/docs").status_code == 200
    assert httpx.get(f"{stack.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{stack.base_url}/readyz").json()
    assert ready["status"] == "ready" and ready["checks"] == {"temporal": "ok", "store": "ok"}
