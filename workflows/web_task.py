"""`WebTaskWorkflow`: one run, workflow id = webTaskId. Reads like lifecycle.md.

Deterministic orchestration only: every side effect is an activity, and large data (output, code,
artifacts) travels as store references.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

from workflows.lane import (
    KEY_GRANTED,
    KEY_REFUSED,
    QUEUE_POSITION,
    KeyGrant,
    KeyRefusal,
    LaneTicket,
    QueuePosition,
    WorkspaceLimits,
)
from workflows.run_metrics import record_run

with workflow.unsafe.imports_passed_through():
    from activities.author import AuthorActivities
    from activities.code import load_code, save_revision
    from activities.credits import charge_credits, check_credits
    from activities.errors import NON_RETRYABLE, REVISION_CONFLICT, UNAUTHENTICATED
    from activities.execute import ExecuteActivities
    from activities.results import persist_result
    from activities.screen import screen_request
    from activities.validate import validate_output
    from webtasks.lane_models import LEASE_MARGIN
    from webtasks.models import (
        Attempt,
        AttemptFailure,
        AttemptKind,
        AuthorInput,
        AuthorResult,
        ChargeInput,
        Cost,
        CreditCheckInput,
        ErrorCode,
        ExecuteInput,
        ExecuteResult,
        LoadCodeInput,
        LoadedCode,
        PersistInput,
        Reuse,
        RunError,
        SaveRevisionInput,
        ScreenInput,
        ScreenResult,
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
EXECUTE_HEARTBEAT = timedelta(seconds=10)
EXECUTE_GRACE = timedelta(seconds=90)
AUTHOR_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_attempts=2, non_retryable_error_types=NON_RETRYABLE
)
AUTHOR_HEARTBEAT = timedelta(seconds=15)
# Runs recorded before AI authoring existed failed when code was missing or broken; replays keep that.
AI_AUTHORING_PATCH = "ai-authoring"
# Runs recorded before key lanes existed went straight from screening to execution.
KEY_LANE_PATCH = "key-lane"


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
        self._status = WebTaskStatus(status="pending")
        self._attempts: list[Attempt] = []
        self._artifact_refs: list[Any] = []
        self._compute_seconds = 0.0
        self._ai_usd = 0.0
        self._reuse: Reuse | None = None
        self._ticket = LaneTicket()

    @workflow.signal(name=KEY_GRANTED)
    def key_granted(self, grant: KeyGrant) -> None:
        self._ticket.granted(grant)

    @workflow.signal(name=KEY_REFUSED)
    def key_refused(self, refusal: KeyRefusal) -> None:
        self._ticket.refused(refusal)

    @workflow.signal(name=QUEUE_POSITION)
    def queue_position(self, position: QueuePosition) -> None:
        self._ticket.moved(position)

    @workflow.query
    def status(self) -> WebTaskResult:
        """The run as `GET …/result` shows it while it is pending or started."""
        assert self._run is not None and self._created_at is not None
        return WebTaskResult(
            web_task_id=self._run.web_task_id,
            status=self._status.status,
            created_at=self._created_at,
            started_at=self._status.started_at,
            queue_position=self._ticket.position if self._status.status == "pending" else None,
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
            await self._admit(run)
            self._status = WebTaskStatus(status="started", started_at=workflow.now())
            result.started_at = self._status.started_at
            output = await self._produce_output(run)
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
            if isinstance(exc.cause, CancelledError):
                return await self._canceled(run, result)
            result.outcome = "failed"
            result.error = RunError(
                code="internal-error",
                message="the run could not finish because a service it needs failed; it is safe to start it again",
                details={"reason": "activity-failed", "cause": _cause(exc)},
            )
            await self._deliver_artifacts_only(run)
        except asyncio.CancelledError:
            return await self._canceled(run, result)
        await self._ticket.release()
        result.completed_at = workflow.now()
        result.reuse = self._reuse
        result.attempts = self._attempts
        result.cost = Cost(ai_usd=self._ai_usd, compute=self._compute_seconds / 3600)
        workflow.upsert_search_attributes([OUTCOME.value_set(result.outcome or "failed")])
        record_run(result, run.workspace_id)
        return result

    async def _canceled(self, run: WebTaskInput, result: WebTaskResult) -> WebTaskResult:
        """The activity in flight was canceled with the run (its sandbox is killed); nothing is saved."""
        await self._ticket.release()
        workflow.upsert_search_attributes([OUTCOME.value_set("canceled")])
        canceled = WebTaskResult(
            web_task_id=run.web_task_id,
            status="canceled",
            created_at=result.created_at,
            started_at=result.started_at,
            completed_at=workflow.now(),
            attempts=self._attempts,
        )
        record_run(canceled, run.workspace_id)
        return canceled

    async def _admit(self, run: WebTaskInput) -> None:
        """Steps 2 to 4: screen the request, join the key's queue, wait for the key (and a workspace slot)."""
        screened: ScreenResult = await _store(
            screen_request,
            ScreenInput(workspace_id=run.workspace_id, start_url=run.request.start_url),
            f"screen {run.request.start_url or 'the request'}",
        )
        lanes = workflow.patched(KEY_LANE_PATCH)
        if lanes:
            await self._ticket.request(
                run.workspace_id,
                run.reuse_key,
                lease=timedelta(seconds=run.request.timeout_seconds) + LEASE_MARGIN,
                limits=WorkspaceLimits(max_concurrent=screened.max_concurrent, queue_on_limit=screened.queue_on_limit),
                accepted_at=run.created_at,
            )
        if not screened.allowed:
            raise RunFailed("rejected", screened.reason or "the request was refused at screening")
        if not lanes:
            return
        waited = await self._ticket.wait(timedelta(seconds=screened.queue_wait_limit_seconds))
        if waited.status != "started":
            raise RunFailed(waited.status, waited.message or waited.status, waited.details)

    async def _produce_output(self, run: WebTaskInput) -> ExecuteResult:
        """Steps 5 to 7: execute the saved code; author or repair with the model when needed; save what works."""
        assert self._status.started_at is not None
        deadline = self._status.started_at + timedelta(seconds=run.request.timeout_seconds)
        code: LoadedCode | None = await _store(
            load_code,
            LoadCodeInput(workspace_id=run.workspace_id, reuse_key=run.reuse_key),
            f"load the current revision of {run.reuse_key}",
        )
        failure: AttemptFailure | None = None
        if code is not None:
            self._reuse = Reuse(
                key=run.reuse_key, used=True, revision_id=code.revision_id, revision_timestamp=code.revision_timestamp
            )
            executed = await self._attempt(run, code, deadline)
            if executed.failure is None:
                return executed
            failure = executed.failure
            if failure.reason == "timeout":
                raise RunFailed(
                    "timeout",
                    f"the run passed its deadline of {run.request.timeout_seconds} s while executing saved code",
                    {"phase": "execute", **failure.details()},
                )
        if not workflow.patched(AI_AUTHORING_PATCH):
            if failure is not None:
                raise RunFailed("internal-error", f"the saved automation failed: {failure.message}", failure.details())
            raise RunFailed(
                "internal-error",
                f"no automation is saved under reuseKey {run.reuse_key!r} yet",
                {"reason": "no-saved-code"},
            )
        return await self._author(run, code, failure, deadline)

    async def _author(
        self, run: WebTaskInput, code: LoadedCode | None, failure: AttemptFailure | None, deadline: datetime
    ) -> ExecuteResult:
        """Step 6: one authoring conversation, charged to the workspace unless the run brought its own key."""
        own_key = run.sealed_api_key is not None
        credits = await _store(
            check_credits,
            CreditCheckInput(workspace_id=run.workspace_id, own_key=own_key),
            "check the workspace's AI credits",
        )
        if not credits.allowed:
            raise RunFailed(
                "no-ai-credits-left", credits.message or "no AI credits left", {"balance": credits.balance_usd}
            )
        kind: AttemptKind = "repair" if code is not None else "author"
        first = len(self._attempts) + 1
        try:
            authored: AuthorResult = await workflow.execute_activity_method(
                AuthorActivities.author_automation,
                AuthorInput(
                    web_task_id=run.web_task_id,
                    workspace_id=run.workspace_id,
                    reuse_key=run.reuse_key,
                    kind=kind,
                    request=run.request,
                    output_schema=run.request.output_schema,
                    base_revision_id=code.revision_id if code else None,
                    failure=failure,
                    first_attempt=first,
                    max_submissions=run.max_attempts,
                    deadline=deadline,
                    sealed_api_key=run.sealed_api_key,
                ),
                summary=f"{kind} attempt {first} with {run.request.model}",
                start_to_close_timeout=max(deadline - workflow.now(), timedelta(seconds=1)) + EXECUTE_GRACE,
                heartbeat_timeout=AUTHOR_HEARTBEAT,
                retry_policy=AUTHOR_RETRY,
            )
        except ActivityError as exc:
            if isinstance(exc.cause, ApplicationError) and exc.cause.type == UNAUTHENTICATED:
                raise RunFailed("unauthenticated", exc.cause.message, {"reason": "model-credentials-refused"}) from None
            raise
        self._ai_usd += authored.ai_usd
        if authored.ai_usd > 0 and not own_key:
            await _store(
                charge_credits,
                ChargeInput(workspace_id=run.workspace_id, web_task_id=run.web_task_id, usd=authored.ai_usd),
                f"charge ${authored.ai_usd:.4f} of model spend",
            )
        for attempt in authored.attempts:
            self._record(kind, attempt.n, attempt.execution, revision_id=None)
        if authored.outcome == "rejected":
            raise RunFailed("rejected", f"the task was refused: {authored.reason}", {"reason": "model-rejected"})
        winner = authored.winner
        if winner is None:
            raise self._authoring_failed(run, authored, deadline)
        await self._save(run, code, winner.code_ref, winner.output_schema, winner.n)
        return winner.execution

    async def _save(
        self, run: WebTaskInput, code: LoadedCode | None, code_ref: str, output_schema: dict[str, Any] | None, n: int
    ) -> None:
        """Step 7: the working code becomes current, unless the key moved on since this run began."""
        try:
            saved = await _store(
                save_revision,
                SaveRevisionInput(
                    workspace_id=run.workspace_id,
                    reuse_key=run.reuse_key,
                    code_ref=code_ref,
                    output_schema=output_schema,
                    source="repair" if code else "author",
                    model=run.request.model,
                    web_task_id=run.web_task_id,
                    expected_current=code.revision_id if code else None,
                    idempotency_key=f"{run.web_task_id}-attempt-{n}",
                ),
                f"save the working code of attempt {n} as the current revision",
            )
        except ActivityError as exc:
            if isinstance(exc.cause, ApplicationError) and exc.cause.type == REVISION_CONFLICT:
                workflow.logger.warning("%s: not saved, the key moved on: %s", run.web_task_id, exc.cause.message)
                return
            raise
        self._reuse = Reuse(
            key=run.reuse_key,
            used=code is not None,
            created=code is None,
            updated=True,
            revision_id=saved.revision_id,
            revision_timestamp=saved.created_at,
        )
        self._attempts[-1].revision_id = saved.revision_id

    def _authoring_failed(self, run: WebTaskInput, authored: AuthorResult, deadline: datetime) -> RunFailed:
        last = authored.attempts[-1].execution.failure if authored.attempts else None
        if workflow.now() >= deadline or (last is not None and last.reason == "timeout"):
            phase = "repair" if self._reuse is not None else "author"
            return RunFailed(
                "timeout",
                f"the run passed its deadline of {run.request.timeout_seconds} s while the model was writing code",
                {"phase": phase, **(last.details() if last else {})},
            )
        if last is None:
            return RunFailed(
                "internal-error",
                f"the model produced no working code: {authored.reason}",
                {"reason": "automation-failed"},
            )
        return RunFailed(
            "internal-error", f"no submitted code worked ({authored.reason}): {last.message}", last.details()
        )

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
        self._record("reuse", n, executed, revision_id=code.revision_id)
        return executed

    def _record(self, kind: AttemptKind, n: int, executed: ExecuteResult, revision_id: str | None) -> None:
        self._compute_seconds += executed.compute_seconds
        self._artifact_refs.append(executed.artifacts)
        self._attempts.append(
            Attempt(
                n=n,
                kind=kind,
                started_at=executed.started_at,
                ended_at=executed.ended_at,
                outcome="success" if executed.ok else "failed",
                error=executed.failure.details() if executed.failure else None,
                revision_id=revision_id,
            )
        )

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
