"""AI authoring and repair through the real anthropic SDK against the scripted model server."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from tests.automations import DIRECTORY_PAGE
from tests.conftest import Stack
from tests.model_server import ModelServer, Recorded
from tests.sites import Site, start_site
from tests.sites.data import filtered
from webtasks.store import LocalStore
from webtasks.store.workspaces import WorkspaceStore

HAIKU = (1.0, 5.0)


def marker() -> str:
    return f"[t-{secrets.token_hex(4)}]"


def expected_permits(category: str) -> list[dict[str, Any]]:
    return [
        {"id": p["id"], "name": p["name"], "status": p["status"], "fee": p["fee"], "phone": p["phone"]}
        for p in filtered(category=category)
    ]


def price(records: list[Recorded], prices: tuple[float, float] = HAIKU) -> float:
    input_price, output_price = prices
    return (
        sum(
            r.usage["input_tokens"] * input_price
            + r.usage["output_tokens"] * output_price
            + r.usage["cache_creation_input_tokens"] * input_price * 1.25
            + r.usage["cache_read_input_tokens"] * input_price * 0.1
            for r in records
            if r.status == 200
        )
        / 1_000_000
    )


@pytest.fixture
def own_site() -> Iterator[Site]:
    """A site of this test's own, so switching its layout does not disturb other tests."""
    with start_site() as running:
        yield running


def wait(api: httpx.Client, web_task_id: str) -> dict[str, Any]:
    for _ in range(600):
        body = api.get(f"/web-tasks/{web_task_id}/result").json()
        if body["status"] in ("completed", "canceled"):
            return dict(body)
        time.sleep(0.2)
    raise TimeoutError(web_task_id)


def directory_task(tag: str) -> str:
    return f"Pull every permit of one category in the permit directory with its status, fee and phone {tag}"


def current_revision(stack: Stack, key: str) -> str:
    with stack.http() as http:
        return str(http.get(f"/automations/{key}").json()["current"]["revisionId"])


def test_first_run_authors_and_saves_then_later_runs_reuse(
    stack: Stack, own_site: Site, model_server: ModelServer
) -> None:
    tag, key = marker(), f"author-{secrets.token_hex(3)}"
    body = {
        "task": directory_task(tag),
        "startUrl": own_site.url,
        "reuseKey": key,
        "parameters": {"category": "Bakery"},
    }
    first = stack.run(body)
    assert first["outcome"] == "success", first.get("error")
    assert first["result"]["data"] == expected_permits("Bakery")
    reuse = first["reuse"]
    assert (reuse["created"], reuse["updated"], reuse["used"]) == (True, True, False)
    calls = model_server.model.requests_for(tag)
    assert len(calls) >= 2
    assert first["cost"]["aiUsd"] > 0
    assert first["cost"]["aiUsd"] == pytest.approx(price(calls), rel=1e-9)
    assert [a["kind"] for a in first["attempts"]] == ["author"]
    assert first["attempts"][0]["revision_id"] == reuse["revision_id"]
    assert calls[0].body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert calls[0].body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    first_message = calls[0].body["messages"][0]["content"]
    assert directory_task(tag) in first_message and '"category": "Bakery"' in first_message

    second = stack.run({**body, "parameters": {"category": "Salon"}})
    assert second["outcome"] == "success", second.get("error")
    assert second["result"]["data"] == expected_permits("Salon")
    assert len(model_server.model.requests_for(tag)) == len(calls), "a reuse run must not call the model"
    assert second["cost"]["aiUsd"] == 0
    assert second["reuse"]["used"] is True and second["reuse"]["updated"] is False
    assert second["reuse"]["revision_id"] == reuse["revision_id"]
    with stack.http() as http:
        saved = http.get(f"/automations/{key}").json()["current"]
    assert saved["source"] == "author" and saved["outputSchema"]["type"] == "array", "the inferred schema is saved"


def test_layout_change_is_repaired_and_the_repair_is_reused(
    stack: Stack, own_site: Site, model_server: ModelServer
) -> None:
    tag, key = marker(), f"repair-{secrets.token_hex(3)}"
    body = {
        "task": directory_task(tag),
        "startUrl": own_site.url,
        "reuseKey": key,
        "parameters": {"category": "Retail"},
    }
    created = stack.run(body)
    assert created["outcome"] == "success", created.get("error")
    own_site.layout = "b"
    repaired = stack.run(body)
    assert repaired["outcome"] == "success", repaired.get("error")
    assert repaired["result"]["data"] == expected_permits("Retail")
    assert repaired["reuse"]["updated"] is True and repaired["reuse"]["used"] is True
    assert repaired["reuse"]["created"] is False
    assert repaired["reuse"]["revision_id"] != created["reuse"]["revision_id"]
    assert [a["kind"] for a in repaired["attempts"]] == ["reuse", "repair"]
    assert repaired["attempts"][0]["outcome"] == "failed"
    repair_prompt = model_server.model.requests_for(tag)[-2].body["messages"][0]["content"]
    assert "This is a repair" in repair_prompt and "table#permits" in repair_prompt, "the failing code goes verbatim"
    calls = len(model_server.model.requests_for(tag))
    again = stack.run({**body, "parameters": {"category": "Salon"}})
    assert again["outcome"] == "success" and again["result"]["data"] == expected_permits("Salon")
    assert len(model_server.model.requests_for(tag)) == calls and again["cost"]["aiUsd"] == 0


def test_a_failed_repair_leaves_the_saved_code_alone(stack: Stack, own_site: Site, model_server: ModelServer) -> None:
    tag, key = marker(), f"failrepair-{secrets.token_hex(3)}"
    body = {"task": directory_task(tag), "startUrl": own_site.url, "reuseKey": key, "parameters": {"category": "Salon"}}
    created = stack.run(body)
    assert created["outcome"] == "success", created.get("error")
    revision = created["reuse"]["revision_id"]
    own_site.layout = "b"
    failed = stack.run({**body, "task": directory_task(tag) + " [always-broken]"})
    assert failed["outcome"] == "failed"
    assert failed["error"]["code"] == "internal-error"
    assert failed["error"]["details"]["reason"] == "automation-failed"
    assert failed["reuse"]["updated"] is False and failed["reuse"]["revision_id"] == revision
    assert [a["kind"] for a in failed["attempts"]] == ["reuse", "repair", "repair", "repair"]
    assert [a["n"] for a in failed["attempts"]] == [1, 2, 3, 4]
    assert current_revision(stack, key) == revision
    own_site.layout = "a"
    calls = len(model_server.model.requests_for(tag))
    back = stack.run(body)
    assert back["outcome"] == "success" and back["reuse"]["revision_id"] == revision
    assert len(model_server.model.requests_for(tag)) == calls


def test_broken_then_good_code_in_one_run(stack: Stack, site: Site) -> None:
    tag, key = marker(), f"twice-{secrets.token_hex(3)}"
    result = stack.run(
        {
            "task": directory_task(tag) + " [broken-first]",
            "startUrl": site.url,
            "reuseKey": key,
            "parameters": {"category": "Bakery"},
        }
    )
    assert result["outcome"] == "success", result.get("error")
    assert [(a["n"], a["kind"], a["outcome"]) for a in result["attempts"]] == [
        (1, "author", "failed"),
        (2, "author", "success"),
    ]
    assert result["attempts"][0]["error"]["reason"] == "automation-failed"
    assert result["attempts"][0]["artifacts"]["trace"]
    assert result["reuse"]["created"] is True


def test_no_tool_call_gets_one_reminder(stack: Stack, site: Site, model_server: ModelServer) -> None:
    tag = marker()
    result = stack.run(
        {
            "task": directory_task(tag) + " [no-tool-first]",
            "startUrl": site.url,
            "reuseKey": f"remind-{secrets.token_hex(3)}",
            "parameters": {"category": "Retail"},
        }
    )
    assert result["outcome"] == "success", result.get("error")
    reminder = model_server.model.requests_for(tag)[1].body["messages"][-1]["content"]
    assert "calling a tool" in reminder


def test_reject_task(stack: Stack, site: Site) -> None:
    result = stack.run({"task": f"Write a poem about permits {marker()}", "startUrl": site.url})
    assert result["outcome"] == "failed"
    assert result["error"]["code"] == "rejected"
    assert "poem" in result["error"]["message"]
    assert "reuse" not in result


def test_provider_401_is_unauthenticated(stack: Stack, site: Site, model_server: ModelServer) -> None:
    model_server.model.fail_next(401)
    result = stack.run({"task": directory_task(marker()), "startUrl": site.url, "parameters": {"category": "Salon"}})
    assert result["outcome"] == "failed"
    assert result["error"]["code"] == "unauthenticated"
    assert "sk-" not in str(result)


def test_overloaded_twice_is_retried_and_succeeds(stack: Stack, site: Site, model_server: ModelServer) -> None:
    tag = marker()
    model_server.model.fail_next(529, count=2)
    result = stack.run({"task": directory_task(tag), "startUrl": site.url, "parameters": {"category": "Salon"}})
    assert result["outcome"] == "success", result.get("error")
    statuses = [r.status for r in model_server.model.requests_for(tag)]
    assert statuses[:3] == [529, 529, 200]


def test_credits_gate_the_model_but_not_working_code(stack: Stack, site: Site, model_server: ModelServer) -> None:
    workspaces = WorkspaceStore(LocalStore(stack.data_dir, secret=b"unused", base_url=stack.base_url))
    name = f"broke-{secrets.token_hex(3)}"
    _, api_key = workspaces.create(name, allow_private_network=True, credits_usd=0.0)
    api = httpx.Client(base_url=f"{stack.base_url}/api/v1/workspace/{name}", headers={"x-api-key": api_key}, timeout=30)
    with api:
        api.put("/automations/working", json={"code": DIRECTORY_PAGE}).raise_for_status()
        tag = marker()
        refused = wait(
            api,
            api.post(
                "/web-tasks/start", json={"task": directory_task(tag), "startUrl": site.url, "reuseKey": "needs-model"}
            ).json()["webTaskId"],
        )
        assert refused["outcome"] == "failed"
        assert refused["error"]["code"] == "no-ai-credits-left"
        assert "credits add" in refused["error"]["message"]
        assert model_server.model.requests_for(tag) == [], "no model call without credits"
        working = wait(
            api,
            api.post(
                "/web-tasks/start", json={"task": "List permits", "startUrl": site.url, "reuseKey": "working"}
            ).json()["webTaskId"],
        )
        assert working["outcome"] == "success" and working["cost"]["aiUsd"] == 0
    shown = stack.cli("workspace", "credits", "add", name, "0.5")
    assert shown.returncode == 0 and "0.5000" in shown.stdout


def test_model_spend_is_charged_to_the_workspace(stack: Stack, site: Site) -> None:
    before = stack.cli("workspace", "credits", "show", "local").stdout
    result = stack.run({"task": directory_task(marker()), "startUrl": site.url, "parameters": {"category": "Salon"}})
    assert result["outcome"] == "success", result.get("error")
    after = stack.cli("workspace", "credits", "show", "local").stdout
    balance = lambda text: float(text.rsplit("$", 1)[1])  # noqa: E731
    assert balance(before) - balance(after) == pytest.approx(result["cost"]["aiUsd"], abs=1e-4)


def test_the_runs_own_key_is_used_and_never_kept(stack: Stack, site: Site, model_server: ModelServer) -> None:
    own_key = f"sk-ant-own-{secrets.token_hex(16)}"
    model_server.model.accepted_keys.add(own_key)
    tag = marker()
    result = stack.run(
        {
            "task": directory_task(tag),
            "startUrl": site.url,
            "parameters": {"category": "Salon"},
            "anthropicApiKey": own_key,
        }
    )
    assert result["outcome"] == "success", result.get("error")
    assert {r.api_key for r in model_server.model.requests_for(tag)} == {own_key}
    bad_key = f"sk-ant-bad-{secrets.token_hex(16)}"
    refused = stack.run({"task": directory_task(marker()), "startUrl": site.url, "anthropicApiKey": bad_key})
    assert refused["error"]["code"] == "unauthenticated"

    async def histories() -> str:
        client = await Client.connect(stack.temporal_address)
        texts = []
        for web_task_id in (result["webTaskId"], refused["webTaskId"]):
            texts.append((await client.get_workflow_handle(web_task_id).fetch_history()).to_json())
        return "\n".join(texts)

    history = asyncio.run(histories())
    assert result["webTaskId"] in history
    for secret in (own_key, bad_key):
        assert secret not in history, "a run's own key must not reach workflow history"
        assert secret not in json.dumps(result) + json.dumps(refused)
        for log in stack.logs.glob("*.log"):
            assert secret not in log.read_text(errors="replace"), f"{log.name} holds the key"
        for path in stack.data_dir.rglob("*"):
            if path.is_file() and path.name != "temporal.db":
                assert secret.encode() not in path.read_bytes(), f"{path} holds the key"
