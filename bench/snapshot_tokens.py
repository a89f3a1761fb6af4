"""What the model reads: compact page snapshots versus raw HTML, and one authoring run's tokens.

    python bench/snapshot_tokens.py

For each fixture page: characters and estimated tokens (4 characters a token) of the snapshot the
model's tools return and of the page's raw HTML, with their ratio. Then one authoring run through the
whole stack (Temporal, worker, API, sandboxed Chromium) against the scripted model server: its total
input, output and cache tokens and the resulting `cost.aiUsd`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402

from tests.conftest import free_port  # noqa: E402
from tests.model_server import SERVER_KEY, ModelServer  # noqa: E402
from tests.sites import start_site  # noqa: E402
from webtasks.sandbox.snapshot import compact_snapshot  # noqa: E402

PAGES = [
    ("directory (layout a)", "a", "/directory"),
    ("directory (layout b)", "b", "/directory"),
    ("detail page", "a", "/directory/P-1003"),
    ("fee table", "a", "/table"),
    ("renewal form, step 1", "a", "/renew"),
    ("reports (downloads)", "a", "/reports"),
    ("live table (JS, loaded)", "a", "/live"),
]


def tokens(chars: int) -> int:
    return round(chars / 4)


async def snapshot_table(site_url: str, set_layout: object) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = await browser.new_page()
        print(f"{'page':26}{'HTML chars':>12}{'~tokens':>9}{'snapshot':>10}{'~tokens':>9}{'ratio':>8}")
        totals = [0, 0]
        for name, layout, path in PAGES:
            set_layout(layout)  # type: ignore[operator]
            await page.goto(site_url + path, wait_until="networkidle")
            html = await page.content()
            snap = await compact_snapshot(page)
            totals[0] += len(html)
            totals[1] += len(snap)
            ratio = len(html) / len(snap)
            print(f"{name:26}{len(html):12}{tokens(len(html)):9}{len(snap):10}{tokens(len(snap)):9}{ratio:7.1f}x")
        html_chars, snap_chars = totals
        print(
            f"{'all pages':26}{html_chars:12}{tokens(html_chars):9}{snap_chars:10}{tokens(snap_chars):9}"
            f"{html_chars / snap_chars:7.1f}x"
        )
        await browser.close()


def authoring_run(site_url: str, model: ModelServer) -> None:
    from webtasks import stack as embedded
    from webtasks.config import Settings
    from webtasks.store.workspaces import read_credentials

    os.environ.update(
        {
            "WEBTASKS_DATA_DIR": tempfile.mkdtemp(prefix="webtasks-bench-"),
            "WEBTASKS_API_PORT": str(free_port()),
            "WEBTASKS_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "WEBTASKS_TEMPORAL_UI_PORT": str(free_port()),
            "ANTHROPIC_API_KEY": SERVER_KEY,
            "ANTHROPIC_BASE_URL": model.url,
        }
    )
    conf = Settings()
    embedded.start(conf, detach=True)
    try:
        creds = read_credentials(conf.credentials_file)
        assert creds is not None
        api = httpx.Client(
            base_url=f"{conf.base_url}/api/v1/workspace/{creds['workspaceId']}",
            headers={"x-api-key": creds["apiKey"]},
            timeout=30,
        )
        task = "Pull every permit of a category in the permit directory with its status, fee and phone"
        body = {"task": task, "startUrl": site_url, "parameters": {"category": "Bakery"}}
        web_task_id = api.post("/web-tasks/start", json=body).json()["webTaskId"]
        while (result := api.get(f"/web-tasks/{web_task_id}/result").json())["status"] != "completed":
            time.sleep(0.2)
        calls = [r for r in model.model.requests if r.status == 200]
        total = {k: sum(r.usage[k] for r in calls) for k in calls[0].usage}
        attempts = len(result["attempts"])
        print(f"\none authoring run ({result['outcome']}, {attempts} attempt(s)), {len(calls)} model calls:")
        for key, value in total.items():
            print(f"  {key:30}{value:8}")
        print(f"  cost.aiUsd (haiku prices)     {result['cost']['aiUsd']:.6f}")
    finally:
        embedded.stop(conf)


def main() -> None:
    with start_site() as site:

        def set_layout(layout: str) -> None:
            site.layout = layout

        asyncio.run(snapshot_table(site.url, set_layout))
        model = ModelServer()
        try:
            authoring_run(site.url, model)
        finally:
            model.close()


if __name__ == "__main__":
    main()
