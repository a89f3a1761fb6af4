"""Reuse latency: a saved-code Webtasks run versus a bare Playwright script doing the same extraction.

    python bench/reuse_latency.py [--runs 20]

(a) a standalone script that launches Chromium, reads the fixture directory's first page (20 rows) and
exits; (b) the same extraction as a Webtasks run through the HTTP API on a running stack (Temporal dev
server, worker, API started here in a temporary data directory), timed from the start request to the
completed result, once back to back and once with idle time before each run (the next sandbox slot
warms up in between). Prints median and p95 of each and their ratio to the bare script.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.automations import DIRECTORY_PAGE  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.sites import start_site  # noqa: E402

BARE_SCRIPT = """
import asyncio, sys
from playwright.async_api import async_playwright

async def main(url):
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = await browser.new_page()
        await page.goto(url + "/directory?page=1")
        rows = await page.eval_on_selector_all(
            "table#permits tr:has(td)", "rows => rows.map(r => Array.from(r.cells, c => c.innerText))")
        assert len(rows) == 20, len(rows)
        await browser.close()

asyncio.run(main(sys.argv[1]))
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def bare_runs(url: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", BARE_SCRIPT, url], check=True)
        times.append(time.perf_counter() - began)
    return times


def webtasks_runs(url: str, runs: int, env: dict[str, str], gaps: tuple[float, ...]) -> dict[float, list[float]]:
    from webtasks import stack as embedded
    from webtasks.config import Settings

    os.environ.update(env)
    conf = Settings()
    embedded.start(conf, detach=True)
    try:
        from webtasks.store.workspaces import read_credentials

        creds = read_credentials(conf.credentials_file)
        assert creds is not None
        api = f"{conf.base_url}/api/v1/workspace/{creds['workspaceId']}"
        headers = {"x-api-key": creds["apiKey"]}
        with httpx.Client(base_url=api, headers=headers, timeout=30) as http:
            http.put("/automations/bench-directory", json={"code": DIRECTORY_PAGE}).raise_for_status()
            body = {"task": "List the first page of permits", "startUrl": url, "reuseKey": "bench-directory"}
            wait(http, http.post("/web-tasks/start", json=body).json()["webTaskId"])  # warm-up, not counted
            timings: dict[float, list[float]] = {}
            for gap in gaps:
                times = timings.setdefault(gap, [])
                for _ in range(runs):
                    time.sleep(gap)
                    began = time.perf_counter()
                    web_task_id = http.post("/web-tasks/start", json=body).json()["webTaskId"]
                    result = wait(http, web_task_id)
                    times.append(time.perf_counter() - began)
                    assert result["outcome"] == "success" and len(result["result"]["data"]) == 20, result
        return timings
    finally:
        embedded.stop(conf)


def wait(http: httpx.Client, web_task_id: str) -> dict[str, object]:
    while True:
        result = http.get(f"/web-tasks/{web_task_id}/result").json()
        if result["status"] in ("completed", "canceled"):
            return dict(result)
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--gap", type=float, default=3.0, help="idle seconds before each run of the spaced series")
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="webtasks-bench-")
    env = {
        "WEBTASKS_DATA_DIR": data_dir,
        "WEBTASKS_API_PORT": str(free_port()),
        "WEBTASKS_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "WEBTASKS_TEMPORAL_UI_PORT": str(free_port()),
    }
    with start_site() as site:
        bare = bare_runs(site.url, args.runs)
        reuse = webtasks_runs(site.url, args.runs, env, gaps=(0.0, args.gap))
    print(f"reuse latency, {args.runs} runs each, fixture directory page 1 (20 rows), {os.cpu_count()} CPUs")
    print(f"{'':44}{'median s':>10}{'p95 s':>10}{'min s':>10}{'ratio med':>11}{'ratio p95':>11}")
    rows = [
        ("bare Playwright script (launch, extract, exit)", bare),
        ("Webtasks run, back to back", reuse[0.0]),
        (f"Webtasks run, {args.gap:g} s idle before each", reuse[args.gap]),
    ]
    for name, values in rows:
        ratio_median = statistics.median(values) / statistics.median(bare)
        ratio_p95 = percentile(values, 0.95) / percentile(bare, 0.95)
        print(
            f"{name:44}{statistics.median(values):10.3f}{percentile(values, 0.95):10.3f}{min(values):10.3f}"
            f"{ratio_median:10.2f}x{ratio_p95:10.2f}x"
        )
    print("ratio = Webtasks / bare script; back-to-back runs share 2 cores with the warming of the next sandbox slot")


if __name__ == "__main__":
    main()
