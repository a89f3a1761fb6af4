"""`WebTaskWorkflow`: one run, workflow id = webTaskId. Reads like lifecycle.md.

Deterministic orchestration only: every side effect is an activity, and large data (output, code,
artifacts) travels as store references.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.code import load_code
    from activities.errors import NON_RETRYABLE
    from activities.execute import ExecuteActivities
    from activities.results import persist_result
    from activities.screen import screen_request
    from activities.validate import validate_output
    from webtasks.models import (
        Attempt,
        AttemptFailure,
        Cost,
        ErrorCode,
        ExecuteInput,
        ExecuteResult,
        LoadCodeInput,
        LoadedCode,
        PersistInput,
        Reuse,
        RunError,
        ScreenInput,
        ValidateInput,
        WebTaskInput,
        WebTaskResult,
        WebTaskStatus,
    )

OUTCOME = SearchAttributeKey.for_keyword("WebtasksOutcome")
In = TypeVar("In")
Out = TypeVar("Out")

STORE_TIMEOUT = timedelta(seconds=60)
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=15),
    maximum_attempts=5,
    non_retryable_error_types=NON_RETRYABLE,
)
EXECUTE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_attempts=3, non_retryable_error_types=NON_RETRYABLE
)
EXECUTE_HEARTBEAT = timedelta(seconds=20)
EXECUTE_GRACE = timedelta(seconds=90)


class RunFailed(Exception):
    """Ends the run `failed` with an error code of lifecycle.md."""

    def __init__(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.error = RunError(code=code, message=message, details=details)


@workflow.defn(name="WebTaskWorkflow")
class WebTaskWorkflow:
    def __init__(self) -> None:
        self._run: WebTaskInput | None = None
        self._created_at: datetime | None = None
        self._status = WebTaskStatus(status="pending", queue_position=1)
        self._attempts: list[Attempt] = []
        self._artifact_refs: list[Any] = []
        self._compute_seconds = 0.0
        self._reuse: Reuse | None = None

    @workflow.query
    def status(self) -> WebTaskResult:
        """The run as `GET …/result` shows it while it is pending or started."""
        assert self._run is not None and self._created_at is not None
        return WebTaskResult(
            web_task_id=self._run.web_task_id,
            status=self._status.status,
            created_at=self._created_at,
            started_at=self._status.started_at,
            queue_position=self._status.queue_position,
            input=self._run.request,
        )

    @workflow.run
    async def run(self, run: WebTaskInput) -> WebTaskResult:
        created_at = run.created_at or workflow.info().start_time
        self._run, self._created_at = run, created_at
        result = WebTaskResult(
            web_task_id=run.web_task_id, status="completed", created_at=created_at, input=run.request, attempts=[]
        )
        try:
            await self._screen(run)
            self._status = WebTaskStatus(status="started", started_at=workflow.now())
            result.started_at = self._status.started_at
            output = await self._execute_saved_code(run)
            delivered = await _store(
                persist_result,
                PersistInput(
                    web_task_id=run.web_task_id,
                    workspace_id=run.workspace_id,
                    output_ref=output.output_ref,
                    file_ids=output.file_ids,
                    attempt_artifacts=self._artifact_refs,
                ),
                "deliver the output",
            )
            result.outcome, result.result = "success", delivered.result
            self._link_artifacts(delivered.artifacts)
        except RunFailed as failed:
            result.outcome, result.error = "failed", failed.error
            await self._deliver_artifacts_only(run)
        except ActivityError as exc:
            result.outcome = "failed"
            result.error = RunError(
                code="internal-error",
                message="the run could not finish because a service it needs failed; it is safe to start it again",
                details={"reason": "activity-failed", "cause": _cause(exc)},
            )
            await self._deliver_artifacts_only(run)
        result.completed_at = workflow.now()
        result.reuse = self._reuse
        result.attempts = self._attempts
        result.cost = Cost(ai_usd=0.0, compute=self._compute_seconds / 3600)
        workflow.upsert_search_attributes([OUTCOME.value_set(result.outcome or "failed")])
        return result

    async def _screen(self, run: WebTaskInput) -> None:
        screened = await _store(
            screen_request,
            ScreenInput(workspace_id=run.workspace_id, start_url=run.request.start_url),
            f"screen {run.request.start_url or 'the request'}",
        )
        if not screened.allowed:
            raise RunFailed("rejected", screened.reason or "the request was refused at screening")

    async def _execute_saved_code(self, run: WebTaskInput) -> ExecuteResult:
        code: LoadedCode | None = await _store(
            load_code,
            LoadCodeInput(workspace_id=run.workspace_id, reuse_key=run.reuse_key),
            f"load the current revision of {run.reuse_key}",
        )
        if code is None:
            raise RunFailed(
                "internal-error",
                f"no automation is saved under reuseKey {run.reuse_key!r} yet; save one with "
                f"`webtasks automations push {run.reuse_key} FILE.py` (AI authoring is not available in this version)",
                {"reason": "no-saved-code"},
            )
        self._reuse = Reuse(
            key=run.reuse_key, used=True, revision_id=code.revision_id, revision_timestamp=code.revision_timestamp
        )
        assert self._status.started_at is not None
        deadline = self._status.started_at + timedelta(seconds=run.request.timeout_seconds)
        executed = await self._attempt(run, code, deadline)
        if executed.failure is not None:
            failure = executed.failure
            if failure.reason == "timeout":
                raise RunFailed(
                    "timeout",
                    f"the run passed its deadline of {run.request.timeout_seconds} s while executing saved code",
                    {"phase": "execute", **failure.details()},
                )
            raise RunFailed("internal-error", f"the saved automation failed: {failure.message}", failure.details())
        return executed

    async def _attempt(self, run: WebTaskInput, code: LoadedCode, deadline: datetime) -> ExecuteResult:
        n = len(self._attempts) + 1
        executed: ExecuteResult = await workflow.execute_activity_method(
            ExecuteActivities.execute_automation,
            ExecuteInput(
                web_task_id=run.web_task_id,
                workspace_id=run.workspace_id,
                reuse_key=run.reuse_key,
                attempt=n,
                kind="reuse",
                revision_id=code.revision_id,
                start_url=run.request.start_url,
                parameters=run.request.parameters or {},
                proxy=run.request.proxy,
                deadline=deadline,
            ),
            summary=f"execute revision {code.revision_id} on {run.request.start_url or 'no start URL'}",
            start_to_close_timeout=max(deadline - workflow.now(), timedelta(seconds=1)) + EXECUTE_GRACE,
            heartbeat_timeout=EXECUTE_HEARTBEAT,
            retry_policy=EXECUTE_RETRY,
        )
        self._compute_seconds += executed.compute_seconds
        if executed.ok and executed.output_ref is not None:
            checked = await _store(
                validate_output,
                ValidateInput(
                    output_ref=executed.output_ref,
                    output_schema=run.request.output_schema,
                    workspace_id=run.workspace_id,
                    reuse_key=run.reuse_key,
                    revision_id=code.revision_id,
                ),
                "validate the output against its JSON Schema",
            )
            if not checked.valid:
                executed.ok = False
                executed.failure = _invalid(checked.errors)
        self._artifact_refs.append(executed.artifacts)
        self._attempts.append(
            Attempt(
                n=n,
                kind="reuse",
                started_at=executed.started_at,
                ended_at=executed.ended_at,
                outcome="success" if executed.ok else "failed",
                error=executed.failure.details() if executed.failure else None,
                revision_id=code.revision_id,
            )
        )
        return executed

    async def _deliver_artifacts_only(self, run: WebTaskInput) -> None:
        if not self._artifact_refs:
            return
        try:
            delivered = await _store(
                persist_result,
                PersistInput(
                    web_task_id=run.web_task_id, workspace_id=run.workspace_id, attempt_artifacts=self._artifact_refs
                ),
                "link the attempts' artifacts",
            )
            self._link_artifacts(delivered.artifacts)
        except ActivityError:
            workflow.logger.warning("artifacts of %s could not be linked", run.web_task_id)

    def _link_artifacts(self, links: list[Any]) -> None:
        for attempt, artifacts in zip(self._attempts, links, strict=False):
            attempt.artifacts = artifacts


def _invalid(errors: list[str]) -> AttemptFailure:
    return AttemptFailure(
        reason="output-invalid",
        message=f"the output does not match the output schema ({len(errors)} error(s)): {errors[0] if errors else ''}",
        validation_errors=errors,
    )


def _cause(exc: ActivityError) -> str:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return f"{cause.type}: {cause.message}"
    return str(cause or exc)


async def _store(activity_fn: Callable[[In], Out], arg: In, summary: str) -> Out:
    """A short activity against the store: one minute, retried with backoff unless the error is final."""
    return await workflow.execute_activity(
        activity_fn, arg, summary=summary, start_to_close_timeout=STORE_TIMEOUT, retry_policy=STORE_RETRY
    )
