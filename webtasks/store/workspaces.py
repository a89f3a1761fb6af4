"""Workspaces and their API keys. Keys are stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from webtasks.ids import new_api_key
from webtasks.models import Workspace
from webtasks.store.base import NotFound, Store

LOCAL_WORKSPACE = "local"
# The embedded `local` workspace starts with a small model budget so a new user's first tasks just work.
LOCAL_STARTING_CREDITS_USD = 5.0


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class WorkspaceStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, workspace_id: str) -> Workspace | None:
        try:
            return Workspace.model_validate_json(self._store.get(f"workspaces/{workspace_id}.json"))
        except NotFound:
            return None

    def list(self) -> list[Workspace]:
        return [Workspace.model_validate_json(self._store.get(k)) for k in self._store.list("workspaces/")]

    def put(self, workspace: Workspace) -> None:
        self._store.put(f"workspaces/{workspace.id}.json", workspace.model_dump_json(by_alias=True).encode())

    def create(self, workspace_id: str, *, name: str | None = None, **settings: Any) -> tuple[Workspace, str]:
        """Create a workspace with its first API key; the key is returned once and only its hash kept."""
        workspace = Workspace(id=workspace_id, name=name or workspace_id, **settings)
        if not self._store.put_if_absent(
            f"workspaces/{workspace.id}.json", workspace.model_dump_json(by_alias=True).encode()
        ):
            raise FileExistsError(f"workspace {workspace_id!r} already exists")
        return workspace, self.add_key(workspace_id)

    def add_key(self, workspace_id: str) -> str:
        workspace = self.get(workspace_id)
        if workspace is None:
            raise NotFound(workspace_id)
        api_key = new_api_key()
        digest = hash_key(api_key)
        self._store.put(f"apikeys/{digest}.json", json.dumps({"workspaceId": workspace_id}).encode())
        workspace.api_key_hashes.append(digest)
        self.put(workspace)
        return api_key

    def update(self, workspace_id: str, change: Callable[[Workspace], Workspace]) -> Workspace:
        """Apply `change` with compare-and-set, retrying when another writer got there first."""
        key = f"workspaces/{workspace_id}.json"
        while True:
            raw = self._store.get(key)
            updated = change(Workspace.model_validate_json(raw))
            if self._store.swap(key, raw, updated.model_dump_json(by_alias=True).encode()):
                return updated

    def charge(self, workspace_id: str, usd: float, *, charge_id: str) -> Workspace:
        """Take `usd` off the credit balance once per `charge_id` (a retried charge is not taken twice)."""
        if not self._store.put_if_absent(f"charges/{workspace_id}/{charge_id}.json", json.dumps({"usd": usd}).encode()):
            workspace = self.get(workspace_id)
            assert workspace is not None
            return workspace
        return self.update(workspace_id, lambda w: w.model_copy(update={"credits_usd": w.credits_usd - usd}))

    def add_credits(self, workspace_id: str, usd: float) -> Workspace:
        return self.update(workspace_id, lambda w: w.model_copy(update={"credits_usd": w.credits_usd + usd}))

    def authenticate(self, api_key: str) -> str | None:
        """The workspace id this key belongs to, or None."""
        try:
            return str(json.loads(self._store.get(f"apikeys/{hash_key(api_key)}.json"))["workspaceId"])
        except NotFound:
            return None

    def ensure_local(self, credentials_file: Path, base_url: str) -> Workspace:
        """Create the `local` workspace on first start and keep its key where the CLI and SDK look."""
        workspace = self.get(LOCAL_WORKSPACE)
        if workspace is not None and credentials_file.exists():
            return workspace
        if workspace is None:
            workspace, api_key = self.create(
                LOCAL_WORKSPACE, name="Local", allow_private_network=True, credits_usd=LOCAL_STARTING_CREDITS_USD
            )
        else:
            api_key = self.add_key(LOCAL_WORKSPACE)
        write_credentials(credentials_file, workspace_id=LOCAL_WORKSPACE, api_key=api_key, base_url=base_url)
        return workspace


def write_credentials(path: Path, *, workspace_id: str, api_key: str, base_url: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"workspaceId": workspace_id, "apiKey": api_key, "baseUrl": base_url}, handle)
    os.replace(tmp, path)


def read_credentials(path: Path) -> dict[str, str] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return None
