"""Saved code is untrusted: it must not see the worker's secrets or data, and it dies at its limits."""

from __future__ import annotations

import secrets
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import PLANTED_KEY, Stack
from tests.sites import Site

SNOOP = """
import os, pathlib

async def run(page, params, ctx):
    found = {}
    for path in params["paths"]:
        try:
            found[path] = pathlib.Path(path).read_text()[:200]
        except Exception as exc:
            found[path] = f"refused: {type(exc).__name__}"
    listing = []
    try:
        listing = os.listdir(params["dataDir"])
    except Exception as exc:
        listing = [f"refused: {type(exc).__name__}"]
    try:
        open("/etc/webtasks-written-by-code", "w").write("x")
        wrote = "wrote outside its directory"
    except Exception as exc:
        wrote = type(exc).__name__
    return {"env": dict(os.environ), "files": found, "listing": listing, "write": wrote, "cwd": os.getcwd()}
"""


def test_code_cannot_read_the_workers_environment_or_data(stack: Stack) -> None:
    secret_files = [str(stack.data_dir / "secret.key"), str(stack.data_dir / "credentials.json")]
    assert all((stack.data_dir / name).exists() for name in ("secret.key", "credentials.json"))
    stack.push("snoop", SNOOP)
    result = stack.run(
        {
            "task": "Look around",
            "reuseKey": "snoop",
            "parameters": {"paths": secret_files, "dataDir": str(stack.data_dir)},
        }
    )
    assert result["outcome"] == "success", result.get("error")
    seen = result["result"]["data"]
    assert "ANTHROPIC_API_KEY" not in seen["env"]
    assert PLANTED_KEY not in str(seen)
    assert not any(name.startswith("WEBTASKS_") for name in seen["env"])
    api_key = stack.api_key
    for path in secret_files:
        assert seen["files"][path].startswith("refused"), seen["files"][path]
    assert api_key not in str(seen)
    assert "secret.key" not in seen["listing"] and "credentials.json" not in seen["listing"]
    assert seen["write"] != "wrote outside its directory"


DIALS = """
import socket

async def run(page, params, ctx):
    reached = {}
    for name, (host, port) in params["targets"].items():
        try:
            socket.create_connection((host, port), timeout=3).close()
            reached[name] = "connected"
        except OSError as exc:
            reached[name] = f"refused: {exc}"
    await ctx.goto(ctx.start_url + "/table")
    return {"reached": reached, "browserSaw": await page.title()}
"""


def test_code_reaches_nothing_but_its_browser(stack: Stack, site: Site) -> None:
    """No socket of its own to Temporal, the API, the site or the world; the browser still loads the site."""
    site_port = int(site.url.rsplit(":", 1)[1])
    api_port = int(stack.base_url.rsplit(":", 1)[1])
    temporal_port = int(stack.temporal_address.rsplit(":", 1)[1])
    targets = {
        "temporal": ["127.0.0.1", temporal_port],
        "api": ["127.0.0.1", api_port],
        "site": ["127.0.0.1", site_port],
        "metadata": ["169.254.169.254", 80],
    }
    stack.push("dials", DIALS)
    result = stack.run(
        {"task": "Dial out", "reuseKey": "dials", "startUrl": site.url, "parameters": {"targets": targets}}
    )
    assert result["outcome"] == "success", result.get("error")
    data = result["result"]["data"]
    for name, outcome in data["reached"].items():
        assert outcome.startswith("refused"), f"automation code opened a connection to {name}"
    assert data["browserSaw"], "the browser could not load the site"


HANGS = """
import subprocess, time

async def run(page, params, ctx):
    subprocess.Popen(["sleep", "4242.5"])
    ctx.log("child started; now blocking the event loop")
    time.sleep(10_000)
"""


def test_code_is_killed_at_its_wall_clock_limit(stack: Stack) -> None:
    stack.push("hangs", HANGS)
    began = time.monotonic()
    result = stack.run({"task": "Hang", "reuseKey": "hangs", "timeoutSeconds": 10}, timeout=90)
    elapsed = time.monotonic() - began
    assert result["outcome"] == "failed"
    assert result["error"]["code"] == "timeout"
    assert result["error"]["details"]["phase"] == "execute"
    assert elapsed < 45, f"the run took {elapsed:.0f}s to end after a 10 s deadline"
    assert result["attempts"][0]["outcome"] == "failed"
    leftover = subprocess.run(["pgrep", "-f", "sleep 4242.5"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "a process started by the code outlived the kill"


def test_each_run_gets_a_fresh_browser_context(stack: Stack, site: Site) -> None:
    code = """
async def run(page, params, ctx):
    await ctx.goto(ctx.start_url + "/")
    before = await page.evaluate("document.cookie")
    await page.evaluate("document.cookie = 'seen=1; max-age=3600'")
    return {"cookieBefore": before, "webdriver": await page.evaluate("navigator.webdriver"),
            "ua": await page.evaluate("navigator.userAgent")}
"""
    stack.push("fresh-context", code)
    first = stack.run({"task": "Cookie check", "startUrl": site.url, "reuseKey": "fresh-context"})
    second = stack.run({"task": "Cookie check", "startUrl": site.url, "reuseKey": "fresh-context"})
    for result in (first, second):
        assert result["outcome"] == "success", result.get("error")
        data = result["result"]["data"]
        assert data["cookieBefore"] == ""
        assert not data["webdriver"]
        assert "HeadlessChrome" not in data["ua"]


def test_finished_runs_leave_no_slot_directories_behind(stack: Stack, site: Site) -> None:
    """Each slot's directory (browser profile, code, artifacts) goes once its run is filed."""
    stack.push("leaves-nothing", "async def run(page, params, ctx):\n    await ctx.goto(ctx.start_url)\n    return 1\n")
    stack.push("fails-leaves-nothing", "async def run(page, params, ctx):\n    raise RuntimeError('boom')\n")
    for key in ("leaves-nothing", "fails-leaves-nothing", "leaves-nothing"):
        stack.run({"task": "Run once", "reuseKey": key, "startUrl": site.url})
    authored = stack.run(  # a model conversation: an exploring browser, then a slot per submission
        {
            "task": f"Pull every permit of one category in the permit directory with its status, fee and phone "
            f"[t-{secrets.token_hex(4)}]",
            "startUrl": site.url,
            "parameters": {"category": "Bakery"},
        }
    )
    assert authored["outcome"] == "success", authored.get("error")
    root = Path(tempfile.gettempdir()) / "webtasks-sandbox" / f"pid-{stack.processes['worker'].pid}"
    warm_slots = int(stack.env["WEBTASKS_WARM_SLOTS"])
    assert len(list(root.iterdir())) <= warm_slots, f"slot directories left behind: {sorted(root.iterdir())}"
