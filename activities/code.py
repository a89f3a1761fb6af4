"""Loading and saving automation revisions (lifecycle steps 5 and 7)."""

from __future__ import annotations

from temporalio import activity

from activities.errors import INVALID_CODE, REVISION_CONFLICT, non_retryable
from webtasks.automation import InvalidCode
from webtasks.models import LoadCodeInput, LoadedCode, RevisionSummary, SaveRevisionInput
from webtasks.store import get_store
from webtasks.store.revisions import RevisionConflict, RevisionStore


@activity.defn
def load_code(request: LoadCodeInput) -> LoadedCode | None:
    """The key's current revision, as a reference (the code stays in the store)."""
    revision = RevisionStore(get_store()).current(request.workspace_id, request.reuse_key)
    if revision is None:
        return None
    return LoadedCode(
        revision_id=revision.revision_id,
        revision_timestamp=revision.created_at,
        has_output_schema=revision.output_schema is not None,
    )


@activity.defn
def save_revision(request: SaveRevisionInput) -> RevisionSummary:
    """Make working code current: compare-and-set on the starting revision, idempotent per attempt."""
    store = get_store()
    code = store.get(request.code_ref).decode()
    try:
        revision = RevisionStore(store).save(
            request.workspace_id,
            request.reuse_key,
            code=code,
            output_schema=request.output_schema,
            source=request.source,
            model=request.model,
            web_task_id=request.web_task_id,
            expected_current=request.expected_current,
            idempotency_key=request.idempotency_key,
        )
    except RevisionConflict as exc:
        raise non_retryable(REVISION_CONFLICT, str(exc)) from exc
    except InvalidCode as exc:
        raise non_retryable(INVALID_CODE, str(exc)) from exc
    return revision.summary()
