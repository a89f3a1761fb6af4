"""Storage of revisions, results, files and artifacts behind one interface."""

from __future__ import annotations

from functools import cache

from webtasks.config import settings
from webtasks.store.base import NotFound, Store, StoreUnavailable
from webtasks.store.local import LocalStore


@cache
def get_store() -> LocalStore:
    """The configured store. Only the local directory exists so far; S3 slots in behind `Store`."""
    conf = settings()
    conf.data_dir.mkdir(parents=True, exist_ok=True)
    return LocalStore(conf.data_dir, secret=conf.signing_secret(), base_url=conf.base_url)


__all__ = ["LocalStore", "NotFound", "Store", "StoreUnavailable", "get_store"]
