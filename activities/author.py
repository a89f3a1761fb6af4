"""The authoring conversation (lifecycle step 6, model-protocol.md): explore, submit, execute, retry.

One activity holds one conversation: a live sandboxed browser for the model's tools, and a fresh
sandbox slot for every submission, executed and validated exactly like a saved revision.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

import anthropic
from jsonschema import Draft202012Validator, SchemaError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import MODEL_REQUEST_REJECTED, MODEL_UNAVAILABLE, UNAUTHENTICATED, non_retryable
from activities.execute import execute_code
from activities.heartbeat import heartbeating
from webtasks import telemetry
from webtasks.ai import prompts
from webtasks.ai.keys import unseal
from webtasks.ai.pricing import cost_usd, model_id
from webtasks.automation import InvalidCode, check_code
from webtasks.models import (
    AttemptFailure,
    AuthoredAttempt,
    AuthorInput,
    AuthorResult,
    ExecuteInput,
    ExecuteResult,
    TokenUsage,
    utcnow,
)
from webtasks.sandbox.pool import ExploreSession, SandboxJob, SandboxPool
from webtasks.store import get_store
from webtasks.store.keys import attempt_object
from webtasks.store.revisions import RevisionStore
from webtasks.store.workspaces import WorkspaceStore
from webtasks.validation import schema_errors

log = logging.getLogger("webtasks.author")

MAX_OUTPUT_TOKENS = 8_192
MODEL_RETRIES = 3
MODEL_TIMEOUT_SECONDS = 120.0
MAX_TURNS = 40


class AuthorActivities:
    """Holds the worker's sandbox pool; one instance per worker process."""

    def __init__(self, pool: SandboxPool) -> None:
        self._pool = pool

    @activity.defn
    async def author_automation(self, request: AuthorInput) -> AuthorResult:
        async with heartbeating():
            return await Conversation(self._pool, request).run()


class Conversation:
    def __init__(self, pool: SandboxPool, request: AuthorInput) -> None:
        self.pool = pool
        self.request = request
        self.result = AuthorResult(outcome="failed")
        api_key = unseal(request.sealed_api_key) if request.sealed_api_key else None
        self.client = anthropic.AsyncAnthropic(
            api_key=api_key or os.environ.get("ANTHROPIC_API_KEY"),
            max_retries=MODEL_RETRIES,
            timeout=MODEL_TIMEOUT_SECONDS,
        )
        self.model = request.request.model
        self.schema = request.output_schema
        self._session: ExploreSession | None = None

    async def run(self) -> AuthorResult:
        code = None
        if self.request.base_revision_id is not None:
            revision = await asyncio.to_thread(
                RevisionStore(get_store()).get, self.request.workspace_id, self.request.reuse_key,
                self.request.base_revision_id,
            )  # fmt: skip
            code = revision.code
            self.schema = self.schema or revision.output_schema
        first = prompts.first_message(
            self.request.request, output_schema=self.schema, code=code, failure=self.request.failure
        )
        messages: list[dict[str, Any]] = [{"role": "user", "content": first}]
        workspace = await asyncio.to_thread(WorkspaceStore(get_store()).get, self.request.workspace_id)
        explore_job = SandboxJob(
            code="",
            params=self.request.request.parameters or {},
            start_url=self.request.request.start_url,
            run_id=self.request.web_task_id,
            deadline=self.request.deadline.timestamp(),
            proxy=self.request.request.proxy,
            block_private_network=not (workspace and workspace.allow_private_network),
        )
        async with self.pool.explore(explore_job) as session:
            self._session = session
            await self._converse(messages)
        return self.result

    async def _converse(self, messages: list[dict[str, Any]]) -> None:
        reminded = False
        for _ in range(MAX_TURNS):
            if self._seconds_left() <= 5:
                self.result.reason = "the run's deadline passed while the model was working"
                return
            response = await self._ask(messages)
            messages.append(
                {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in response.content]}
            )
            calls = [block for block in response.content if block.type == "tool_use"]
            if not calls:
                if reminded:
                    self.result.reason = "the model answered twice without calling a tool"
                    return
                reminded = True
                messages.append({"role": "user", "content": prompts.REMINDER})
                continue
            answers: list[dict[str, Any]] = []
            for call in calls:
                if call.name == "reject_task":
                    self.result.outcome = "rejected"
                    self.result.reason = str(dict(call.input).get("reason") or "the model refused the task")
                    return
                if call.name == "submit_automation":
                    attempt = await self._try_submission(dict(call.input))
                    if attempt.execution.ok:
                        self.result.outcome = "success"
                        return
                    if len(self.result.attempts) >= self.request.max_submissions:
                        self.result.reason = f"all {len(self.result.attempts)} submissions failed"
                        return
                    answers.append(_tool_result(call.id, _failure_text(attempt.execution.failure), error=True))
                else:
                    assert self._session is not None
                    with telemetry.span(f"browser tool: {call.name}", self._attributes()):
                        ok, text = await self._session.call(call.name, dict(call.input))
                    answers.append(_tool_result(call.id, text, error=not ok))
            messages.append({"role": "user", "content": answers})
        self.result.reason = f"the conversation reached {MAX_TURNS} turns without working code"

    def _attributes(self) -> dict[str, Any]:
        return telemetry.run_attributes(self.request.web_task_id, self.request.reuse_key)

    async def _ask(self, messages: list[dict[str, Any]]) -> Any:
        with telemetry.span("model: messages.create", {**self._attributes(), "webtasks.model": self.model}) as span:
            response = await self._create(messages)
            usage = TokenUsage(
                input_tokens=response.usage.input_tokens or 0,
                output_tokens=response.usage.output_tokens or 0,
                cache_creation_input_tokens=response.usage.cache_creation_input_tokens or 0,
                cache_read_input_tokens=response.usage.cache_read_input_tokens or 0,
            )
            tokens = activity.metric_meter().create_counter("webtasks_model_tokens", "model tokens, by kind")
            for kind, count in usage.model_dump().items():
                span.set_attribute(f"webtasks.{kind}", count)
                tokens.add(count, {"model": self.model, "kind": kind})
        self.result.model_calls += 1
        self.result.usage = self.result.usage.add(usage)
        self.result.ai_usd = cost_usd(self.model, self.result.usage)
        return response

    async def _create(self, messages: list[dict[str, Any]]) -> Any:
        try:
            return await self.client.messages.create(
                model=model_id(self.model),
                max_tokens=MAX_OUTPUT_TOKENS,
                system=prompts.system(),  # type: ignore[arg-type]
                tools=prompts.tools(),  # type: ignore[arg-type]
                messages=messages,  # type: ignore[arg-type]
            )
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
            raise ApplicationError(
                f"the model provider refused the credentials ({exc.status_code})",
                {"status": exc.status_code},
                type=UNAUTHENTICATED,
                non_retryable=True,
            ) from None
        except (anthropic.RateLimitError, anthropic.InternalServerError, anthropic.APIConnectionError) as exc:
            status = getattr(exc, "status_code", None)
            log.warning("model call failed: %s (%r)", type(exc).__name__, exc.__cause__)
            raise ApplicationError(
                f"the model provider is unavailable after {MODEL_RETRIES} retries ({status or type(exc).__name__})",
                {"status": status},
                type=MODEL_UNAVAILABLE,
            ) from None
        except anthropic.APIStatusError as exc:
            raise non_retryable(
                MODEL_REQUEST_REJECTED, f"the model provider rejected the request ({exc.status_code})"
            ) from None

    async def _try_submission(self, submitted: dict[str, Any]) -> AuthoredAttempt:
        n = self.request.first_attempt + len(self.result.attempts)
        code = str(submitted.get("code") or "")
        code_ref = attempt_object(self.request.web_task_id, n, "automation.py")
        await asyncio.to_thread(get_store().put, code_ref, code.encode())
        schema = self.schema
        submitted_schema = submitted.get("output_schema") if isinstance(submitted.get("output_schema"), dict) else None
        started_at = utcnow()
        problem = _code_problem(code) or (_schema_problem(submitted_schema) if schema is None else None)
        if problem is not None:
            execution = ExecuteResult(
                ok=False,
                started_at=started_at,
                ended_at=utcnow(),
                failure=AttemptFailure(reason="automation-failed", message=problem),
            )
        else:
            execution = await execute_code(self.pool, code, self._execute_input(n, code_ref))
            check_against = schema if schema is not None else submitted_schema
            if execution.ok and execution.output_ref is not None and check_against is not None:
                data = json.loads(await asyncio.to_thread(get_store().get, execution.output_ref))
                errors = schema_errors(check_against, data)
                if errors:
                    execution.ok = False
                    execution.failure = AttemptFailure(
                        reason="output-invalid",
                        message=f"the output does not match the output schema ({len(errors)} error(s)): {errors[0]}",
                        validation_errors=errors,
                    )
        attempt = AuthoredAttempt(n=n, code_ref=code_ref, output_schema=schema or submitted_schema, execution=execution)
        self.result.attempts.append(attempt)
        return attempt

    def _execute_input(self, n: int, code_ref: str) -> ExecuteInput:
        return ExecuteInput(
            web_task_id=self.request.web_task_id,
            workspace_id=self.request.workspace_id,
            reuse_key=self.request.reuse_key,
            attempt=n,
            kind=self.request.kind,
            code_ref=code_ref,
            start_url=self.request.request.start_url,
            parameters=self.request.request.parameters or {},
            proxy=self.request.request.proxy,
            deadline=self.request.deadline,
        )

    def _seconds_left(self) -> float:
        return (self.request.deadline - utcnow()).total_seconds()


def _code_problem(code: str) -> str | None:
    try:
        check_code(code)
    except InvalidCode as exc:
        return f"the code cannot be saved: {exc}"
    return None


def _schema_problem(schema: dict[str, Any] | None) -> str | None:
    if schema is None:
        return "no output schema was given, so submit an `output_schema` (JSON Schema) with the code"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"the submitted output_schema is not a valid JSON Schema: {exc.message}"
    return None


def _failure_text(failure: AttemptFailure | None) -> str:
    if failure is None:
        return "the submission failed"
    return "The submission failed.\n" + prompts.evidence(failure)


def _tool_result(tool_use_id: str, text: str, *, error: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id, "content": text}
    if error:
        result["is_error"] = True
    return result
