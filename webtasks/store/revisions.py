"""Saved automations: immutable revisions plus a current pointer moved only by compare-and-set."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from webtasks.automation import check_code
from webtasks.ids import new_revision_id
from webtasks.models import Revision, RevisionSource, utcnow
from webtasks.store.base import NotFound, Store


class RevisionConflict(RuntimeError):
    """The current revision moved since the caller read it; its save was not applied."""


class RevisionStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def _root(workspace_id: str, reuse_key: str) -> str:
        return f"automations/{workspace_id}/{reuse_key}"

    def _pointer(self, workspace_id: str, reuse_key: str) -> tuple[bytes | None, str | None]:
        try:
            raw = self._store.get(f"{self._root(workspace_id, reuse_key)}/current.json")
        except NotFound:
            return None, None
        return raw, json.loads(raw)["revisionId"]

    def current_id(self, workspace_id: str, reuse_key: str) -> str | None:
        return self._pointer(workspace_id, reuse_key)[1]

    def current(self, workspace_id: str, reuse_key: str) -> Revision | None:
        revision_id = self.current_id(workspace_id, reuse_key)
        return self.get(workspace_id, reuse_key, revision_id) if revision_id else None

    def get(self, workspace_id: str, reuse_key: str, revision_id: str) -> Revision:
        raw = self._store.get(f"{self._root(workspace_id, reuse_key)}/revisions/{revision_id}.json")
        return Revision.model_validate_json(raw)

    def history(self, workspace_id: str, reuse_key: str) -> list[Revision]:
        """All revisions, newest first."""
        keys = self._store.list(f"{self._root(workspace_id, reuse_key)}/revisions/")
        return [Revision.model_validate_json(self._store.get(k)) for k in reversed(keys)]

    def keys(self, workspace_id: str) -> list[str]:
        prefix = f"automations/{workspace_id}/"
        return sorted(
            {k[len(prefix) :].split("/", 1)[0] for k in self._store.list(prefix) if k.endswith("/current.json")}
        )

    def save(
        self,
        workspace_id: str,
        reuse_key: str,
        *,
        code: str,
        output_schema: dict[str, Any] | None,
        source: RevisionSource,
        expected_current: str | None,
        model: str | None = None,
        web_task_id: str | None = None,
        idempotency_key: str | None = None,
        notes: str | None = None,
        check_expected: bool = True,
    ) -> Revision:
        """Write a new revision and make it current.

        With `check_expected`, the pointer moves only if it still names `expected_current`; a retried
        call with the same `idempotency_key` returns the revision the first call wrote.
        """
        check_code(code)
        root = self._root(workspace_id, reuse_key)
        if idempotency_key:
            try:
                done = json.loads(self._store.get(f"{root}/idempotency/{idempotency_key}.json"))
                return self.get(workspace_id, reuse_key, done["revisionId"])
            except NotFound:
                pass
        raw_pointer, current_id = self._pointer(workspace_id, reuse_key)
        if check_expected and current_id != expected_current:
            raise RevisionConflict(f"{reuse_key} is now at {current_id}, not {expected_current}")
        revision = Revision(
            revision_id=new_revision_id(),
            reuse_key=reuse_key,
            created_at=utcnow(),
            source=source,
            model=model,
            web_task_id=web_task_id,
            has_output_schema=output_schema is not None,
            notes=notes,
            code=code,
            output_schema=output_schema,
        )
        self._store.put(
            f"{root}/revisions/{revision.revision_id}.json", revision.model_dump_json(by_alias=True).encode()
        )
        if not self._store.swap(
            f"{root}/current.json", raw_pointer, _pointer_json(revision.revision_id, revision.created_at)
        ):
            raise RevisionConflict(
                f"{reuse_key} moved while saving; the new revision {revision.revision_id} is kept but not current"
            )
        if idempotency_key:
            self._store.put_if_absent(
                f"{root}/idempotency/{idempotency_key}.json", json.dumps({"revisionId": revision.revision_id}).encode()
            )
        return revision

    def rollback(self, workspace_id: str, reuse_key: str, revision_id: str) -> Revision:
        """Make an older revision current again; the history is kept as it is."""
        revision = self.get(workspace_id, reuse_key, revision_id)
        root = self._root(workspace_id, reuse_key)
        while True:
            raw_pointer, _ = self._pointer(workspace_id, reuse_key)
            if self._store.swap(f"{root}/current.json", raw_pointer, _pointer_json(revision_id, revision.created_at)):
                return revision


def _pointer_json(revision_id: str, created_at: datetime) -> bytes:
    return json.dumps({"revisionId": revision_id, "createdAt": created_at.isoformat()}).encode()
