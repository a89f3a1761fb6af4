"""Webtasks: web tasks in plain English, done in a real browser, on Temporal.

The public Python surface is the SDK: `webtasks.Client` and `webtasks.AsyncClient`.
"""

from webtasks.sdk import AsyncClient, Client, WebtasksError

__all__ = ["AsyncClient", "Client", "WebtasksError"]
__version__ = "0.1.0"
