"""Checking a run's output against its JSON Schema (the request's, else the revision's)."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator
from temporalio import activity

from webtasks.models import ValidateInput, ValidateResult
from webtasks.store import get_store
from webtasks.store.revisions import RevisionStore

MAX_REPORTED_ERRORS = 20


@activity.defn
def validate_output(request: ValidateInput) -> ValidateResult:
    store = get_store()
    schema = request.output_schema
    if schema is None and request.revision_id:
        schema = RevisionStore(store).get(request.workspace_id, request.reuse_key, request.revision_id).output_schema
    if schema is None:
        return ValidateResult(valid=True)
    data = json.loads(store.get(request.output_ref))
    errors = []
    for error in sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path)):
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        errors.append(f"at {where}: {error.message}"[:500])
        if len(errors) == MAX_REPORTED_ERRORS:
            break
    return ValidateResult(valid=not errors, errors=errors)
