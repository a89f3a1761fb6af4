"""The product's four kinds of task, each authored once by the model and then reused without it."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.conftest import Stack
from tests.model_server import ModelServer
from tests.sites import Site
from tests.sites.data import PERMITS, REPORTS, confirmation_number, filtered, renewal_fee


def authored_then_reused(
    stack: Stack, model_server: ModelServer, body: dict[str, Any], second_parameters: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    tag = f"[k-{secrets.token_hex(4)}]"
    body = {**body, "task": f"{body['task']} {tag}", "reuseKey": f"kind-{secrets.token_hex(4)}"}
    first = stack.run(body, timeout=180)
    assert first["outcome"] == "success", first.get("error")
    assert first["reuse"]["created"] is True and first["cost"]["aiUsd"] > 0
    calls = len(model_server.model.requests_for(tag))
    assert calls > 0
    second = stack.run({**body, "parameters": second_parameters} if second_parameters else body, timeout=180)
    assert second["outcome"] == "success", second.get("error")
    assert second["reuse"]["used"] is True and second["cost"]["aiUsd"] == 0
    assert len(model_server.model.requests_for(tag)) == calls, "the reuse run called the model"
    return first, second


def test_directory_with_pagination_and_detail_pages(stack: Stack, site: Site, model_server: ModelServer) -> None:
    first, second = authored_then_reused(
        stack,
        model_server,
        {
            "task": "Pull every permit of a category in the permit directory, with status, fee and the phone from its "
            "detail page",
            "startUrl": site.url,
            "parameters": {"category": "Construction"},
        },
        {"category": "Restaurant"},
    )
    for result, category in ((first, "Construction"), (second, "Restaurant")):
        expected = [
            {"id": p["id"], "name": p["name"], "status": p["status"], "fee": p["fee"], "phone": p["phone"]}
            for p in filtered(category=category)
        ]
        assert result["result"]["data"] == expected
        assert len(expected) > 10, "the category spans more than one page of 20? at least it needs many details"


def test_multi_page_form_from_parameters(stack: Stack, site: Site, model_server: ModelServer) -> None:
    applicants = [
        {
            "permit_id": "P-1003",
            "owner_name": "Jane Doe",
            "email": "jane@example.com",
            "phone": "555 123 4567",
            "years": 3,
        },
        {
            "permit_id": "P-1017",
            "owner_name": "Ravi Patel",
            "email": "ravi@example.org",
            "phone": "555-987-6543",
            "years": 1,
        },
    ]
    first, second = authored_then_reused(
        stack,
        model_server,
        {
            "task": "Fill the 3-page permit renewal form for the applicant and return the confirmation number",
            "startUrl": site.url,
            "parameters": applicants[0],
        },
        applicants[1],
    )
    for result, applicant in ((first, applicants[0]), (second, applicants[1])):
        expected = confirmation_number(
            applicant["permit_id"], applicant["owner_name"], applicant["email"], applicant["years"]
        )
        assert result["result"]["data"] == {
            "permitId": applicant["permit_id"],
            "confirmation": expected,
            "fee": renewal_fee(applicant["permit_id"], applicant["years"]),
        }
        assert any(s["confirmation"] == expected for s in site.submissions)


def test_downloading_a_batch_of_files(stack: Stack, site: Site, model_server: ModelServer) -> None:
    first, second = authored_then_reused(
        stack,
        model_server,
        {
            "task": "Download every report of the given year from the reports page",
            "startUrl": site.url,
            "parameters": {"year": 2024},
        },
        {"year": 2025},
    )
    for result, year in ((first, 2024), (second, 2025)):
        reports = {r["title"]: r for r in REPORTS if r["year"] == year}
        saved = result["result"]["data"]
        assert sorted(item["title"] for item in saved) == sorted(reports)
        for item in saved:
            file = item["file"]
            assert file["fileName"] == f"{reports[item['title']]['slug']}.csv"
            download = httpx.get(file["url"])
            assert download.status_code == 200
            assert download.text == reports[item["title"]]["csv"]


def test_javascript_rendered_table_with_load_more(stack: Stack, site: Site, model_server: ModelServer) -> None:
    first, second = authored_then_reused(
        stack,
        model_server,
        {
            "task": "Pull the whole live permits table, pressing load more until every row is shown",
            "startUrl": site.url,
        },
        None,
    )
    expected = [{"id": p["id"], "name": p["name"], "status": p["status"], "fee": p["fee"]} for p in PERMITS]
    assert first["result"]["data"] == expected
    assert second["result"]["data"] == expected
