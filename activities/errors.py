"""Typed activity errors. Each `type` maps onto a run's error code in the workflow."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

REVISION_CONFLICT = "RevisionConflict"
INVALID_CODE = "InvalidCode"
NOT_FOUND = "NotFound"
SANDBOX_UNAVAILABLE = "SandboxUnavailable"
UNAUTHENTICATED = "Unauthenticated"
MODEL_UNAVAILABLE = "ModelUnavailable"
MODEL_REQUEST_REJECTED = "ModelRequestRejected"

NON_RETRYABLE = [REVISION_CONFLICT, INVALID_CODE, NOT_FOUND, UNAUTHENTICATED, MODEL_REQUEST_REJECTED]


def non_retryable(error_type: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=error_type, non_retryable=True)
