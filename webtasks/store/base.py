"""The storage interface every backend implements (local directory now, S3 later)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol


class NotFound(KeyError):
    """No object is stored under that key."""


class StoreUnavailable(RuntimeError):
    """The backend could not be read or written; callers map this to 503 or a retry."""


class Store(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, source: Path) -> None:
        """Move a finished local file into the store (it may be consumed)."""
        ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted."""
        ...

    def size(self, key: str) -> int: ...

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write only if nothing is stored under `key`; True if this call wrote it."""
        ...

    def swap(self, key: str, expected: bytes | None, new: bytes) -> bool:
        """Compare-and-set: replace the object only if it currently equals `expected` (None = absent)."""
        ...

    def signed_url(self, key: str, *, file_name: str, content_type: str, ttl_seconds: int) -> tuple[str, datetime]:
        """A URL that downloads the object without an API key until it expires."""
        ...

    def check_writable(self) -> None: ...
