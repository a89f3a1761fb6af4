"""Checking a run's output against its JSON Schema (the request's, else the revision's)."""

from __future__ import annotations

import json

from temporalio import activity

from webtasks.models import ValidateInput, ValidateResult
from webtasks.store import get_store
from webtasks.store.revisions import RevisionStore
from webtasks.validation import schema_errors


@activity.defn
def validate_output(request: ValidateInput) -> ValidateResult:
    store = get_store()
    schema = request.output_schema
    if schema is None and request.revision_id:
        revision = RevisionStore(store).get(request.workspace_id, request.reuse_key, request.revision_id)
        schema = revision.output_schema
    if schema is None:
        return ValidateResult(valid=True)
    errors = schema_errors(schema, json.loads(store.get(request.output_ref)))
    return ValidateResult(valid=not errors, errors=errors)
