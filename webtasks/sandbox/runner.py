"""The sandboxed runner process: `python -m webtasks.sandbox.runner WORKDIR DEVTOOLS_PATH`.

It connects to the browser it is handed (through WORKDIR/cdp.sock, its only way out: under bubblewrap
it has no network of its own, see `bridge`) and prepares a fresh context ahead of time (a warm runner),
says `ready`, then reads one job from stdin, runs the automation in that context and writes
`result.json`, `output.json`, `log.jsonl`, `trace.zip` and, on failure, `screenshot.png` into WORKDIR.
The parent enforces the wall-clock limit and collects those files; this process never sees the
service's environment, data directory or credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

from webtasks.network import private_address
from webtasks.sandbox.bridge import SOCKET_NAME, serve_loopback
from webtasks.sandbox.browser import ACTION_TIMEOUT_MS, STEALTH_SCRIPT, context_options
from webtasks.sandbox.context import Context
from webtasks.sandbox.explore import Explorer
from webtasks.sandbox.snapshot import compact_snapshot

CODE_FILE = "automation.py"


async def _guard_private_network(context: BrowserContext) -> None:
    """Refuse requests to private, loopback and link-local hosts (workspaces without that right)."""
    verdicts: dict[str, bool] = {}

    async def guard(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host not in verdicts:
            verdicts[host] = await asyncio.to_thread(private_address, host) is not None
        if verdicts[host]:
            await route.abort("blockedbyclient")
        else:
            await route.fallback()

    await context.route("**/*", guard)


def _load_entry(workdir: Path) -> Any:
    source = (workdir / CODE_FILE).read_text()
    namespace: dict[str, Any] = {"__name__": "automation", "__file__": CODE_FILE}
    exec(compile(source, CODE_FILE, "exec"), namespace)
    for name in ("run", "automation"):
        entry = namespace.get(name)
        if entry is not None and inspect.iscoroutinefunction(entry):
            return entry
    raise TypeError(
        "the code defines neither `async def run(page, params, ctx)` nor `async def automation(page, params)`"
    )


def _check_json(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, default=_not_json).encode()
    except ValueError as exc:
        raise ValueError(f"the return value is not valid JSON: {exc}") from None


def _not_json(obj: Any) -> Any:
    raise TypeError(f"the return value holds a {type(obj).__name__}, which is not JSON-serializable")


def _failure(exc: BaseException) -> dict[str, Any]:
    frames = traceback.format_exception(exc)
    return {
        "exceptionType": type(exc).__name__,
        "message": str(exc).strip() or type(exc).__name__,
        "traceback": "".join(frames)[-20_000:],
    }


async def _prepare(browser: Browser, proxy: str | None) -> tuple[BrowserContext, Page]:
    """A fresh context and page with the browser defaults, tracing already recording."""
    context = await browser.new_context(**context_options(proxy))
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    await context.add_init_script(STEALTH_SCRIPT)
    await context.tracing.start(screenshots=True, snapshots=True, sources=False)
    return context, await context.new_page()


async def _open(
    browser: Browser, prepared: tuple[BrowserContext, Page], job: dict[str, Any], workdir: Path
) -> tuple[BrowserContext, Page, Context]:
    """The job's context (the prepared one, or a new one behind the job's proxy), its network guard and `ctx`."""
    context, page = prepared
    if job.get("proxy"):
        await context.close()
        context, page = await _prepare(browser, job["proxy"])
    if job.get("blockPrivateNetwork"):
        await _guard_private_network(context)
    ctx = Context(
        page=page,
        start_url=job.get("startUrl"),
        params=job.get("params") or {},
        run_id=job["runId"],
        deadline=float(job["deadline"]),
        workdir=workdir,
    )
    return context, page, ctx


async def _run_job(
    browser: Browser, prepared: tuple[BrowserContext, Page], job: dict[str, Any], workdir: Path
) -> dict[str, Any]:
    result: dict[str, Any] = {"ok": False, "url": None, "files": []}
    context, page, ctx = await _open(browser, prepared, job, workdir)
    try:
        entry = _load_entry(workdir)
        if entry.__name__ == "automation":
            output = await entry(page, ctx.params)
        else:
            output = await entry(page, ctx.params, ctx)
        (workdir / "output.json").write_bytes(_check_json(output))
        result["ok"] = True
    except Exception as exc:
        result["error"] = _failure(exc)
        with contextlib.suppress(Exception):
            await page.screenshot(path=str(workdir / "screenshot.png"), timeout=5_000)
        with contextlib.suppress(Exception):
            result["snapshot"] = await asyncio.wait_for(compact_snapshot(page), 5)
    result["url"] = page.url
    result["files"] = ctx.saved_files
    with contextlib.suppress(Exception):
        await context.tracing.stop(path=str(workdir / "trace.zip"))
    return result


async def _explore(browser: Browser, prepared: tuple[BrowserContext, Page], job: dict[str, Any], workdir: Path,
                   protocol: TextIO) -> None:  # fmt: skip
    """Answer browser-tool calls, one JSON line each, until stdin closes."""
    _, page, ctx = await _open(browser, prepared, job, workdir)
    explorer = Explorer(page, ctx)
    while line := await asyncio.to_thread(sys.stdin.readline):
        call = json.loads(line)
        answer = await explorer.handle(str(call.get("tool")), dict(call.get("input") or {}))
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()


async def main(workdir: Path, devtools_path: str) -> int:
    """Warm up (Playwright, the browser connection, a context), say `ready`, run one job, say `done`."""
    # The protocol owns the real stdout; anything the automation prints goes to the runner's log.
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    bridge, port = await serve_loopback(workdir / SOCKET_NAME)
    async with async_playwright() as pw:
        browser = await pw.chromium.connect_over_cdp(f"ws://127.0.0.1:{port}{devtools_path}")
        prepared = await _prepare(browser, proxy=None)
        protocol.write("ready\n")
        protocol.flush()
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line.strip():
            return 0
        job = json.loads(line)
        if job.get("mode") == "explore":
            await _explore(browser, prepared, job, workdir, protocol)
            return 0
        started = time.time()
        try:
            result = await _run_job(browser, prepared, job, workdir)
        except Exception as exc:
            result = {"ok": False, "error": {**_failure(exc), "sandbox": True}, "files": []}
        result["elapsed"] = time.time() - started
        (workdir / "result.json").write_text(json.dumps(result))
        protocol.write("done\n")
        protocol.flush()
    bridge.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]), sys.argv[2])))
