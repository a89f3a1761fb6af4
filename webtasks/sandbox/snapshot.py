"""Compact page snapshots for the model: a pruned DOM outline with stable element references.

Raw HTML costs the model tens of thousands of tokens per page; this outline keeps what code needs —
headings, text, links with their targets, form fields with their labels, tables as a header and a few
rows, repeated siblings collapsed — and tags every interactive element with a reference (`[e12]`)
that stays the same across snapshots of the same page, so tools can act on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SNAPSHOT_JS = (Path(__file__).parent / "snapshot.js").read_text()

DEFAULT_MAX_CHARS = 12_000


async def compact_snapshot(page: Any, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """`URL`, `Title` and the outline of the current page."""
    outline: str = await page.evaluate(SNAPSHOT_JS, max_chars)
    return f"URL: {page.url}\nTitle: {await page.title()}\n{outline}"


def ref_selector(ref: str) -> str:
    return f'[data-wt-ref="{ref}"]'
