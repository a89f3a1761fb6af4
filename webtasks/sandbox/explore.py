"""Browser tools for the authoring model, executed inside the sandboxed runner (explore mode).

Each tool call arrives as one JSON line and is answered with one: `{"ok": bool, "text": str}`. The
text is what the model sees, so it is compact: page snapshots, not HTML.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any
from urllib.parse import urljoin

from playwright.async_api import Locator, Page

from webtasks.sandbox.context import Context
from webtasks.sandbox.snapshot import compact_snapshot, ref_selector

MAX_TOOL_TEXT = 12_000


class Explorer:
    def __init__(self, page: Page, ctx: Context) -> None:
        self.page = page
        self.ctx = ctx

    def _locator(self, args: dict[str, Any]) -> Locator:
        if args.get("ref"):
            return self.page.locator(ref_selector(str(args["ref"])))
        if args.get("selector"):
            return self.page.locator(str(args["selector"]))
        raise ValueError("give either `ref` (from a snapshot, like e12) or a CSS `selector`")

    async def handle(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        try:
            text = await getattr(self, f"tool_{tool}")(args)
            return {"ok": True, "text": text[:MAX_TOOL_TEXT]}
        except AttributeError:
            return {"ok": False, "text": f"unknown tool {tool!r}"}
        except Exception as exc:
            return {"ok": False, "text": f"{type(exc).__name__}: {str(exc).strip()[:2000]}"}

    async def tool_navigate(self, args: dict[str, Any]) -> str:
        base = self.page.url if self.page.url.startswith("http") else (self.ctx.start_url or "")
        await self.ctx.goto(urljoin(base, str(args["url"])))
        return await compact_snapshot(self.page)

    async def tool_snapshot(self, args: dict[str, Any]) -> str:
        return await compact_snapshot(self.page)

    async def tool_click(self, args: dict[str, Any]) -> str:
        await self._locator(args).first.click()
        await self.ctx.settle()
        return await compact_snapshot(self.page)

    async def tool_fill(self, args: dict[str, Any]) -> str:
        await self._locator(args).first.fill(str(args.get("value", "")))
        return "filled"

    async def tool_select_option(self, args: dict[str, Any]) -> str:
        chosen = await self._locator(args).first.select_option(str(args.get("value", "")))
        return f"selected {chosen}"

    async def tool_inspect(self, args: dict[str, Any]) -> str:
        """How many elements a selector matches, with the text and HTML of the first few: to test selectors."""
        locator = self._locator(args)
        count = await locator.count()
        lines = [f"{count} match(es)"]
        for i in range(min(count, 5)):
            item = locator.nth(i)
            text = (await item.inner_text()).strip().replace("\n", " | ")[:200]
            html = (await item.evaluate("e => e.outerHTML"))[:300]
            lines.append(f"[{i}] text: {text}\n    html: {html}")
        return "\n".join(lines)

    async def tool_run_snippet(self, args: dict[str, Any]) -> str:
        """Run the body of `async def snippet(page, params, ctx)` and show its JSON return value."""
        source = "async def snippet(page, params, ctx):\n" + textwrap.indent(str(args["code"]), "    ")
        namespace: dict[str, Any] = {}
        exec(compile(source, "snippet.py", "exec"), namespace)
        value = await namespace["snippet"](self.page, self.ctx.params, self.ctx)
        return json.dumps(value, default=str, ensure_ascii=False)[:MAX_TOOL_TEXT]
