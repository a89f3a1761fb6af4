"""Delivering a run's output (lifecycle step 8): inline up to 64 KiB, else a signed file with a preview."""

from __future__ import annotations

import json
from typing import Any

from temporalio import activity

from webtasks.models import (
    FILE_URL_TTL_SECONDS,
    INLINE_LIMIT_BYTES,
    PREVIEW_ROWS,
    AttemptArtifacts,
    FilePreview,
    FileResult,
    InlineResult,
    PersistInput,
    PersistResult,
    ResultFile,
    rfc3339,
)
from webtasks.store import get_store
from webtasks.store.keys import delivered_result, run_file
from webtasks.store.local import LocalStore

ARTIFACT_TYPES = {"trace": "application/zip", "log": "application/x-ndjson", "screenshot": "image/png"}


@activity.defn
def persist_result(request: PersistInput) -> PersistResult:
    store = get_store()
    links = [_artifact_links(store, refs.model_dump()) for refs in request.attempt_artifacts]
    if request.output_ref is None:
        return PersistResult(artifacts=links)
    data = json.loads(store.get(request.output_ref))
    if request.file_ids:
        data = _link_files(store, data, request.web_task_id, set(request.file_ids))
    encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    if len(encoded) <= INLINE_LIMIT_BYTES:
        return PersistResult(result=InlineResult(data=data), artifacts=links)
    key = delivered_result(request.web_task_id)
    store.put(key, encoded)
    url, expires_at = store.signed_url(
        key, file_name=f"{request.web_task_id}.json", content_type="application/json", ttl_seconds=FILE_URL_TTL_SECONDS
    )
    file = ResultFile(url=url, size_bytes=len(encoded), expires_at=expires_at, preview=preview(data))
    return PersistResult(result=FileResult(file=file), artifacts=links)


def preview(data: Any) -> FilePreview:
    """Row count and first rows of an array, or of the array inside a one-key object."""
    rows = data
    if isinstance(data, dict) and len(data) == 1:
        rows = next(iter(data.values()))
    if isinstance(rows, list):
        return FilePreview(row_count=len(rows), sample=rows[:PREVIEW_ROWS])
    return FilePreview()


def _link_files(store: LocalStore, data: Any, web_task_id: str, file_ids: set[str]) -> Any:
    """Add a signed `url` and `expiresAt` to every file object the automation returned."""
    if isinstance(data, list):
        return [_link_files(store, item, web_task_id, file_ids) for item in data]
    if not isinstance(data, dict):
        return data
    if data.get("fileId") in file_ids:
        url, expires_at = store.signed_url(
            run_file(web_task_id, data["fileId"]),
            file_name=str(data.get("fileName") or data["fileId"]),
            content_type=str(data.get("contentType") or "application/octet-stream"),
            ttl_seconds=FILE_URL_TTL_SECONDS,
        )
        return {**data, "url": url, "expiresAt": rfc3339(expires_at)}
    return {key: _link_files(store, value, web_task_id, file_ids) for key, value in data.items()}


def _artifact_links(store: LocalStore, refs: dict[str, str | None]) -> AttemptArtifacts:
    links: dict[str, str] = {}
    for field, key in refs.items():
        if key:
            links[field] = store.signed_url(
                key,
                file_name=key.rsplit("/", 1)[-1],
                content_type=ARTIFACT_TYPES[field],
                ttl_seconds=FILE_URL_TTL_SECONDS,
            )[0]
    return AttemptArtifacts.model_validate(links)
