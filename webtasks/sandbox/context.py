"""`ctx`: the helpers automation code may call (automation.md).

The model is told about exactly this API, and people writing code by hand can import `Context` for
type hints:

    from webtasks.sandbox.context import Context

    async def run(page, params, ctx: Context):
        await ctx.goto(ctx.start_url)
        rows = await ctx.extract_table("table#permits")
        ctx.log("rows read", count=len(rows))
        return rows
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
import secrets
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Download, Locator, Page
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

_TABLE_JS = """
(table) => {
  const text = (cell) => cell.innerText.replace(/\\s+/g, ' ').trim();
  const rows = Array.from(table.querySelectorAll('tr'));
  let header = table.querySelector('thead tr') || rows.find((r) => r.querySelector('th')) || rows[0];
  if (!header) return [];
  const keys = Array.from(header.querySelectorAll('th,td')).map((c, i) => text(c) || `column_${i + 1}`);
  return rows.filter((r) => r !== header && r.querySelector('td')).map((r) => {
    const cells = Array.from(r.querySelectorAll('th,td'));
    const row = {};
    keys.forEach((k, i) => { row[k] = cells[i] ? text(cells[i]) : null; });
    return row;
  });
}
"""


class Context:
    """Per-run inputs and helpers. One instance is passed to `run(page, params, ctx)`."""

    def __init__(
        self,
        *,
        page: Page,
        start_url: str | None,
        params: dict[str, Any],
        run_id: str,
        deadline: float,
        workdir: Path,
    ) -> None:
        self.page = page
        self.start_url = start_url
        self.params = params
        self.run_id = run_id
        self._deadline = deadline
        self._log_path = workdir / "log.jsonl"
        self._files_dir = workdir / "files"
        self.saved_files: list[dict[str, Any]] = []
        self._in_flight = 0
        page.on("request", self._request_started)
        page.on("requestfinished", self._request_ended)
        page.on("requestfailed", self._request_ended)

    def _request_started(self, _: object) -> None:
        self._in_flight += 1

    def _request_ended(self, _: object) -> None:
        self._in_flight = max(0, self._in_flight - 1)

    def remaining(self) -> float:
        """Seconds left before the run's deadline; the runner is killed when it reaches 0."""
        return max(0.0, self._deadline - time.time())

    def log(self, message: str, **fields: Any) -> None:
        """A line in the attempt's log, kept even if the code later fails or is killed."""
        line = {"t": round(time.time(), 3), "message": str(message), **fields}
        with open(self._log_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, default=str) + "\n")

    async def goto(self, url: str, *, retries: int = 2, settle_ms: int = 3000) -> None:
        """Navigate, retrying transient network errors, then wait for the page's requests to settle."""
        for attempt in range(retries + 1):
            try:
                await self.page.goto(url, wait_until="load")
                break
            except PlaywrightError as exc:
                if attempt == retries or (isinstance(exc, PlaywrightTimeout) and self.remaining() < 5):
                    raise
                self.log("goto retry", url=url, error=str(exc).splitlines()[0])
                await asyncio.sleep(0.5 * (attempt + 1))
        await self.settle(settle_ms)

    async def settle(self, max_ms: int = 3000, quiet_ms: int = 150) -> None:
        """Wait until no request has been in flight for `quiet_ms` (at most `max_ms`).

        Cheaper than Playwright's `networkidle`, which always waits 500 ms, and enough for pages that
        fetch their data after `load`.
        """
        deadline = time.monotonic() + max_ms / 1000
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if self._in_flight > 0:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_ms / 1000:
                return

    async def extract_table(self, locator: str | Locator) -> list[dict[str, str | None]]:
        """An HTML table as a list of dicts keyed by its header cells."""
        target = self.page.locator(locator) if isinstance(locator, str) else locator
        rows: list[dict[str, str | None]] = await target.first.evaluate(_TABLE_JS)
        return rows

    async def scroll_to_load(self, max_scrolls: int = 20, pause_ms: int = 600) -> int:
        """Scroll to the bottom until the page stops growing; returns how many scrolls grew it."""
        grew = 0
        height = await self.page.evaluate("document.scrollingElement.scrollHeight")
        for _ in range(max_scrolls):
            await self.page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
            await self.page.wait_for_timeout(pause_ms)
            new_height = await self.page.evaluate("document.scrollingElement.scrollHeight")
            if new_height <= height:
                break
            height, grew = new_height, grew + 1
        return grew

    async def click_until_exhausted(self, locator: str | Locator, max_clicks: int = 50, settle_ms: int = 3000) -> int:
        """Click a "load more" control until it disappears or stays disabled; returns the clicks made.

        After each click it waits for the page's requests to settle and for a control that is disabled
        while loading to come back, so a slow response is not mistaken for the end of the list.
        """
        target = (self.page.locator(locator) if isinstance(locator, str) else locator).first
        clicks = 0
        while clicks < max_clicks:
            try:
                if not await target.is_visible() or not await target.is_enabled():
                    break
                await target.click(timeout=5_000)
            except PlaywrightTimeout:
                break
            clicks += 1
            await self.settle(settle_ms)
            deadline = time.monotonic() + settle_ms / 1000
            while time.monotonic() < deadline and await target.is_visible() and not await target.is_enabled():
                await asyncio.sleep(0.05)
        return clicks

    async def save_file(self, source: Download | bytes | str, file_name: str | None = None) -> dict[str, Any]:
        """Store a file (a Playwright `Download`, bytes, or a URL fetched with the page's cookies).

        Returns `{"fileId","fileName","contentType","sizeBytes","sha256"}`; the delivered result adds a
        signed `url` and its `expiresAt`.
        """
        file_id = f"file_{secrets.token_hex(10)}"
        self._files_dir.mkdir(exist_ok=True)
        path = self._files_dir / file_id
        content_type: str | None = None
        if isinstance(source, bytes | bytearray):
            path.write_bytes(bytes(source))
            name = file_name or f"{file_id}.bin"
        elif isinstance(source, str):
            content_type, suggested = await self._fetch(source, path)
            name = file_name or suggested or Path(source.split("?")[0]).name or f"{file_id}.bin"
        else:
            await source.save_as(path)
            name = file_name or source.suggested_filename
        data = path.read_bytes()
        saved = {
            "fileId": file_id,
            "fileName": name,
            "contentType": content_type or mimetypes.guess_type(name)[0] or "application/octet-stream",
            "sizeBytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        self.saved_files.append(saved)
        self.log("file saved", fileId=file_id, fileName=name, sizeBytes=len(data))
        return saved

    async def _fetch(self, url: str, path: Path) -> tuple[str | None, str | None]:
        """GET `url` in a new tab of the run's context into `path`: the browser's cookies, proxy and
        network policy apply (the runner itself has no network). Returns (content type, suggested name)."""
        tab = await self.page.context.new_page()
        download = asyncio.ensure_future(tab.wait_for_event("download"))
        try:
            try:
                response = await tab.goto(url, wait_until="commit")
            except PlaywrightError as exc:
                if not download.done() and "Download is starting" not in str(exc):
                    raise RuntimeError(f"save_file: GET {url} failed: {str(exc).splitlines()[0]}") from None
                saved: Download = await asyncio.wait_for(download, 30)
                await saved.save_as(path)
                return None, saved.suggested_filename
            if response is None or not response.ok:
                status = response.status if response is not None else "nothing"
                raise RuntimeError(f"save_file: GET {url} answered {status}")
            path.write_bytes(await response.body())
            return response.headers.get("content-type", "").split(";")[0] or None, None
        finally:
            download.cancel()
            await tab.close()
