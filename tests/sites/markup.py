"""HTML helpers shared by the fixture site's page modules."""

from __future__ import annotations

from html import escape


def money(value: float) -> str:
    """Dollars with two decimals and no thousands separator, e.g. "$1499.25"."""
    return f"${value:.2f}"


def document(title: str, body: str) -> str:
    """A complete HTML page around `body`."""
    # The empty data: icon stops Chromium from requesting /favicon.ico into the request log.
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        '<link rel="icon" href="data:,">'
        f"</head><body>\n{body}\n</body></html>\n"
    )
