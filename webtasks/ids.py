"""Identifiers: prefixed, random, and sortable by creation time where listing order matters."""

import secrets
import time


def _sortable(prefix: str) -> str:
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(5)}"


def new_web_task_id() -> str:
    return _sortable("wt")


def new_reuse_key() -> str:
    return f"wtr_{secrets.token_hex(8)}"


def new_revision_id() -> str:
    return _sortable("rev")


def new_file_id() -> str:
    return f"file_{secrets.token_hex(10)}"


def new_api_key() -> str:
    return f"wtk_{secrets.token_urlsafe(32)}"


def new_correlation_id() -> str:
    return f"req_{secrets.token_hex(8)}"
