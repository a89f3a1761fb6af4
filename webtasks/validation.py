"""Output validation against a JSON Schema (draft 2020-12), with messages that point at the data."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

MAX_REPORTED_ERRORS = 20


def schema_errors(schema: dict[str, Any], data: Any) -> list[str]:
    """Up to 20 readable errors like `at /0/fee: 'n/a' is not of type 'number'`; empty when valid."""
    errors = []
    for error in sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        errors.append(f"at {where}: {error.message}"[:500])
        if len(errors) == MAX_REPORTED_ERRORS:
            break
    return errors
