"""What the authoring model is told: the system prompt, the tools, the first message (model-protocol.md)."""

from __future__ import annotations

import json
from typing import Any

from webtasks.models import AttemptFailure, RunInput

SYSTEM_PROMPT = """You write Playwright automations for Webtasks, a service that runs web tasks in a real browser.

You are given a task in plain English, a start URL, parameters and often a JSON Schema for the output.
Explore the site with the browser tools, then call submit_automation with Python code that does the task.
The code is saved and re-run later with no model, with other parameter values, so it must be robust:

- Define `async def run(page, params, ctx)`; `page` is a Playwright async Page in a fresh browser context,
  `params` a dict of the run's parameters; return JSON-serializable data: the task's output.
- Read every varying value from `params` (never hard-code the example values you were given).
- Prefer stable selectors (ids, names, labels, roles, visible text) over positions. Never use the
  `data-wt-ref` attributes you see in snapshots: they exist only while you explore.
- Wait for what you need (locators auto-wait; use ctx.goto, which waits for requests to settle).
- Follow pagination and "load more" until the data is complete when the task asks for all of it.
- If an output schema is given, return exactly that shape. If none is given, also submit an
  `output_schema` (JSON Schema draft 2020-12) describing what your code returns.

Helpers on `ctx`:
- ctx.start_url, ctx.params, ctx.run_id
- ctx.log(message, **fields): a line in the run's log
- await ctx.goto(url): navigation with retries and a settle wait
- await ctx.extract_table(locator_or_selector) -> list of dicts keyed by the header cells
- await ctx.scroll_to_load(max_scrolls=20) / await ctx.click_until_exhausted(locator, max_clicks=50)
- await ctx.save_file(download_or_bytes_or_url, file_name=None) -> {"fileId","fileName","contentType",
  "sizeBytes","sha256"}: use it for files the task asks to download, and return those objects
- ctx.remaining(): seconds left before the deadline

Each submission is executed at once; if it fails you get the error and may fix it. If the task is not
web automation, is impossible, contradictory or against a site's terms, call reject_task instead."""

REMINDER = (
    "Please continue by calling a tool: explore with the browser tools, then call submit_automation with "
    "the code, or reject_task if the task cannot be done."
)

BROWSER_TOOLS: list[dict[str, Any]] = [
    {
        "name": "navigate",
        "description": "Open a URL (absolute, or relative to the current page) and return a compact snapshot.",
        "input_schema": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
    },
    {
        "name": "snapshot",
        "description": "A compact outline of the current page; elements you can act on carry a ref like [e12].",
        "input_schema": {"type": "object", "properties": {}},
    },
    {
        "name": "click",
        "description": "Click an element by snapshot ref or CSS selector, then return the new snapshot.",
        "input_schema": {
            "type": "object",
            "properties": {"ref": {"type": "string"}, "selector": {"type": "string"}},
        },
    },
    {
        "name": "fill",
        "description": "Type a value into an input by snapshot ref or CSS selector.",
        "input_schema": {
            "type": "object",
            "properties": {"ref": {"type": "string"}, "selector": {"type": "string"}, "value": {"type": "string"}},
            "required": ["value"],
        },
    },
    {
        "name": "select_option",
        "description": "Choose an option of a <select> by snapshot ref or CSS selector.",
        "input_schema": {
            "type": "object",
            "properties": {"ref": {"type": "string"}, "selector": {"type": "string"}, "value": {"type": "string"}},
            "required": ["value"],
        },
    },
    {
        "name": "inspect",
        "description": "Test a CSS selector: how many elements match, and the text and HTML of the first five.",
        "input_schema": {"type": "object", "properties": {"selector": {"type": "string"}}, "required": ["selector"]},
    },
    {
        "name": "run_snippet",
        "description": "Run the body of `async def snippet(page, params, ctx)` on the live page; returns its JSON.",
        "input_schema": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
    },
]

SUBMIT_TOOL: dict[str, Any] = {
    "name": "submit_automation",
    "description": "Submit the automation code. It is executed and validated at once; failures come back as errors.",
    "input_schema": {
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "A Python module defining async def run(page, params, ctx)"},
            "output_schema": {"type": "object", "description": "JSON Schema of the output, if none was given"},
            "notes": {"type": "string"},
        },
        "required": ["code"],
    },
}

REJECT_TOOL: dict[str, Any] = {
    "name": "reject_task",
    "description": "Refuse a task that is not web automation, impossible, contradictory or against terms of service.",
    "input_schema": {"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]},
}


def tools() -> list[dict[str, Any]]:
    """All tools, the last one marked so the system prompt and tools are cached together."""
    every = [*BROWSER_TOOLS, SUBMIT_TOOL, REJECT_TOOL]
    return [*every[:-1], {**every[-1], "cache_control": {"type": "ephemeral"}}]


def system() -> list[dict[str, Any]]:
    return [{"type": "text", "text": SYSTEM_PROMPT, "cache_control": {"type": "ephemeral"}}]


def first_message(
    request: RunInput, *, output_schema: dict[str, Any] | None, code: str | None, failure: AttemptFailure | None
) -> str:
    """The task verbatim, its inputs, and for a repair the failing code verbatim with its evidence."""
    parts = [f"Task:\n{request.task}", f"Start URL: {request.start_url or '(none given)'}"]
    if request.parameters:
        parts.append(
            "Parameters (example values of this run; they vary between runs, so read them from `params`):\n"
            + json.dumps(request.parameters, indent=2, ensure_ascii=False)
        )
    else:
        parts.append("Parameters: none")
    if output_schema is not None:
        parts.append("Output JSON Schema (return exactly this shape):\n" + json.dumps(output_schema, indent=2))
    else:
        parts.append("Output schema: none given; submit an output_schema with your code.")
    if code is not None:
        parts.append(
            "This is a repair. The saved automation failed on this run. Its code:\n```python\n" + code + "\n```"
        )
        if failure is not None:
            parts.append("Evidence of the failure:\n" + evidence(failure))
        parts.append("Find out what changed on the site and submit corrected code.")
    return "\n\n".join(parts)


def evidence(failure: AttemptFailure) -> str:
    lines = [f"reason: {failure.reason}", f"error: {failure.message}"]
    if failure.exception_type:
        lines.append(f"exception: {failure.exception_type}")
    if failure.url:
        lines.append(f"page URL at failure: {failure.url}")
    if failure.validation_errors:
        lines.append("validation errors:\n" + "\n".join(f"- {e}" for e in failure.validation_errors))
    if failure.traceback:
        lines.append("traceback:\n" + failure.traceback[-4000:])
    if failure.log_tail:
        lines.append("log:\n" + "\n".join(failure.log_tail[-20:]))
    if failure.snapshot:
        lines.append("page snapshot at failure:\n" + failure.snapshot[:8000])
    return "\n".join(lines)
