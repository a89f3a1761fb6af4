"""Saved code runs end to end through every entry point: API, SDK, CLI and the official Intuned client."""

from __future__ import annotations

import json
from typing import Any

from intuned_client import IntunedClient

from tests.automations import DIRECTORY_PAGE, ROW_SCHEMA, expected_rows
from tests.conftest import Stack
from tests.sites import Site
from tests.sites.data import filtered, page_of
from webtasks import Client


def assert_reused(result: dict[str, Any], revision_id: str) -> None:
    assert result["status"] == "completed", result
    assert result["outcome"] == "success", result.get("error")
    assert result["reuse"]["used"] is True
    assert result["reuse"]["created"] is False and result["reuse"]["updated"] is False
    assert result["reuse"]["revision_id"] == revision_id
    assert result["cost"]["aiUsd"] == 0
    assert result["cost"]["compute"] > 0
    assert [a["kind"] for a in result["attempts"]] == ["reuse"]


def test_api_runs_saved_code(stack: Stack, site: Site) -> None:
    revision = stack.push("dir-api", DIRECTORY_PAGE, ROW_SCHEMA)
    result = stack.run({"task": "List the first page of permits", "startUrl": site.url, "reuseKey": "dir-api"})
    assert_reused(result, revision)
    assert result["result"] == {"type": "inline", "data": expected_rows(page_of(1))}
    assert result["startedAt"] and result["completedAt"] and result["createdAt"]
    assert result["input"]["reuseKey"] == "dir-api"
    attempt = result["attempts"][0]
    assert attempt["outcome"] == "success" and attempt["revision_id"] == revision
    assert attempt["artifacts"]["trace"].startswith(stack.base_url + "/files/")


def test_parameters_change_the_output_of_the_same_code(stack: Stack, site: Site) -> None:
    revision = stack.push("dir-params", DIRECTORY_PAGE, ROW_SCHEMA)
    bakeries = stack.run(
        {"task": "List permits", "startUrl": site.url, "reuseKey": "dir-params", "parameters": {"category": "Bakery"}}
    )
    second_page = stack.run(
        {"task": "List permits", "startUrl": site.url, "reuseKey": "dir-params", "parameters": {"page": 2}}
    )
    assert_reused(bakeries, revision)
    assert_reused(second_page, revision)
    assert bakeries["result"]["data"] == expected_rows(page_of(1, filtered(category="Bakery")))
    assert second_page["result"]["data"] == expected_rows(page_of(2))
    assert bakeries["result"]["data"] != second_page["result"]["data"]


def test_sdk_run(stack: Stack, site: Site) -> None:
    revision = stack.push("dir-sdk", DIRECTORY_PAGE, ROW_SCHEMA)
    with Client(stack.base_url, api_key=stack.api_key, workspace_id=stack.workspace_id) as client:
        result = client.run(
            "List the permits of a status", start_url=site.url, reuse_key="dir-sdk",
            parameters={"page": 3}, output_schema=ROW_SCHEMA, poll_interval=0.2, timeout=120,
        )  # fmt: skip
    assert result.status == "completed" and result.outcome == "success"
    assert result.reuse is not None and result.reuse.used and result.reuse.revision_id == revision
    assert result.cost is not None and result.cost.ai_usd == 0
    assert result.result is not None and result.result.type == "inline"
    assert result.result.data == expected_rows(page_of(3))


async def test_async_sdk_run(stack: Stack, site: Site) -> None:
    from webtasks import AsyncClient

    stack.push("dir-async", DIRECTORY_PAGE)
    async with AsyncClient(stack.base_url, api_key=stack.api_key, workspace_id=stack.workspace_id) as client:
        result = await client.run(
            "List permits", start_url=site.url, reuse_key="dir-async", poll_interval=0.2, timeout=120
        )
    assert result.outcome == "success"
    assert result.result is not None and result.result.type == "inline"
    assert result.result.data == expected_rows(page_of(1))


def test_official_intuned_client(stack: Stack, site: Site) -> None:
    revision = stack.push("dir-intuned", DIRECTORY_PAGE, ROW_SCHEMA)
    client = IntunedClient(
        api_key=stack.api_key, workspace_id=stack.workspace_id, base_url=f"{stack.base_url}/api/v1/workspace"
    )
    with client:
        result = client.web_tasks.run(
            body={
                "task": "List the Salon permits",
                "start_url": site.url,
                "reuse_key": "dir-intuned",
                "parameters": {"category": "Salon"},
                "output_schema": ROW_SCHEMA,
            },
            poll_interval_seconds=0.2,
            timeout_seconds=120,
        )
    assert result.status == "completed"
    assert result.outcome == "success"
    assert result.reuse is not None and result.reuse.used and result.reuse.revision_id == revision
    assert result.cost.ai_usd == 0
    assert result.result is not None and result.result.type == "inline"
    assert result.result.data == expected_rows(page_of(1, filtered(category="Salon")))


def test_cli_run(stack: Stack, site: Site, tmp_path: Any) -> None:
    code_file = tmp_path / "directory.py"
    code_file.write_text(DIRECTORY_PAGE)
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(ROW_SCHEMA))
    pushed = stack.cli("automations", "push", "dir-cli", str(code_file), "--schema", str(schema_file))
    assert pushed.returncode == 0, pushed.stderr
    ran = stack.cli(
        "run", "List the Retail permits", "--start-url", site.url, "--reuse-key", "dir-cli",
        "--param", "category=Retail", "--schema", str(schema_file), "--json",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["outcome"] == "success" and result["reuse"]["used"] is True and result["cost"]["aiUsd"] == 0
    assert result["result"]["data"] == expected_rows(page_of(1, filtered(category="Retail")))
    shown = stack.cli("result", result["webTaskId"])
    assert shown.returncode == 0 and json.loads(shown.stdout)["webTaskId"] == result["webTaskId"]


def test_output_violating_the_schema_fails_and_keeps_the_revision(stack: Stack, site: Site) -> None:
    revision = stack.push("dir-invalid", DIRECTORY_PAGE, ROW_SCHEMA)
    strict = {**ROW_SCHEMA, "items": {**ROW_SCHEMA["items"], "properties": {"fee": {"type": "string"}}}}
    result = stack.run(
        {"task": "List permits [cannot-fix]", "startUrl": site.url, "reuseKey": "dir-invalid", "outputSchema": strict}
    )
    assert result["outcome"] == "failed"
    assert [a["kind"] for a in result["attempts"]] == ["reuse", "repair", "repair", "repair"]
    assert all(a["error"]["reason"] == "output-invalid" for a in result["attempts"])
    assert result["error"]["code"] == "internal-error"
    details = result["error"]["details"]
    assert details["reason"] == "output-invalid"
    assert any("/0/fee" in line and "string" in line for line in details["validationErrors"])
    assert result["reuse"]["updated"] is False and "result" not in result
    with stack.http() as http:
        assert http.get("/automations/dir-invalid").json()["current"]["revisionId"] == revision


def test_schema_saved_with_the_revision_validates_runs_without_one(stack: Stack, site: Site) -> None:
    stack.push("dir-saved-schema", DIRECTORY_PAGE, {"type": "array", "maxItems": 3})
    result = stack.run({"task": "List permits [cannot-fix]", "startUrl": site.url, "reuseKey": "dir-saved-schema"})
    assert result["outcome"] == "failed"
    assert result["error"]["details"]["reason"] == "output-invalid"


BROKEN = """
async def run(page, params, ctx):
    await ctx.goto(ctx.start_url + "/directory")
    ctx.log("about to look for the old table")
    await page.locator("table#does-not-exist").wait_for(timeout=2000)
    return await ctx.extract_table("table#does-not-exist")
"""


def test_exception_fails_with_traceback_in_the_evidence(stack: Stack, site: Site) -> None:
    revision = stack.push("dir-broken", BROKEN)
    result = stack.run({"task": "List permits [cannot-fix]", "startUrl": site.url, "reuseKey": "dir-broken"})
    assert result["outcome"] == "failed"
    assert result["error"]["code"] == "internal-error"
    details = result["error"]["details"]
    assert details["reason"] == "automation-failed"
    assert 'File "automation.py", line 5, in run' in details["traceback"]
    assert 'File "automation.py", line 5, in run' in result["attempts"][0]["error"]["traceback"]
    assert details["url"] == f"{site.url}/directory"
    assert "about to look for the old table" in details["logTail"]
    attempt = result["attempts"][0]
    assert attempt["outcome"] == "failed" and attempt["error"]["reason"] == "automation-failed"
    assert attempt["artifacts"]["screenshot"] and attempt["artifacts"]["trace"]
    assert result["reuse"]["revision_id"] == revision and result["reuse"]["updated"] is False


def test_intuned_style_automation_entry_point(stack: Stack, site: Site) -> None:
    stack.push("intuned-style", "async def automation(page, params, **kwargs):\n    await page.goto(params['url'])\n"
               "    return {'title': await page.title()}\n")  # fmt: skip
    result = stack.run(
        {"task": "Read the title", "reuseKey": "intuned-style", "parameters": {"url": f"{site.url}/directory"}}
    )
    assert result["outcome"] == "success", result.get("error")
    assert result["result"]["data"] == {"title": "Permit Directory"}


def test_non_json_output_fails(stack: Stack) -> None:
    stack.push("not-json", "async def run(page, params, ctx):\n    return {'when': object()}\n")
    result = stack.run({"task": "Return something odd [cannot-fix]", "reuseKey": "not-json"})
    assert result["outcome"] == "failed"
    assert "not JSON-serializable" in result["error"]["details"]["message"]
