"""Executing automation code in a sandbox slot (lifecycle step 5), with heartbeats."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

from temporalio import activity

from activities.errors import NOT_FOUND, SANDBOX_UNAVAILABLE, non_retryable
from activities.heartbeat import heartbeating
from webtasks import telemetry
from webtasks.models import ArtifactRefs, AttemptFailure, ExecuteInput, ExecuteResult, utcnow
from webtasks.sandbox.pool import SandboxError, SandboxJob, SandboxOutcome, SandboxPool
from webtasks.store import NotFound, get_store
from webtasks.store.keys import attempt_object, run_file
from webtasks.store.revisions import RevisionStore
from webtasks.store.workspaces import WorkspaceStore

LOG_TAIL_LINES = 30


class ExecuteActivities:
    """Holds the worker's sandbox pool; one instance per worker process."""

    def __init__(self, pool: SandboxPool) -> None:
        self._pool = pool

    @activity.defn
    async def execute_automation(self, request: ExecuteInput) -> ExecuteResult:
        async with heartbeating():
            code = await asyncio.to_thread(load_attempt_code, request)
            return await execute_code(self._pool, code, request)


def load_attempt_code(request: ExecuteInput) -> str:
    """The code an attempt runs: the saved revision's, or a model's submission kept in the store."""
    store = get_store()
    try:
        if request.code_ref is not None:
            return store.get(request.code_ref).decode()
        assert request.revision_id is not None, "an attempt needs a revision_id or a code_ref"
        return RevisionStore(store).get(request.workspace_id, request.reuse_key, request.revision_id).code
    except NotFound:
        raise non_retryable(
            NOT_FOUND, f"the code of attempt {request.attempt} of {request.web_task_id} is gone"
        ) from None


async def execute_code(pool: SandboxPool, code: str, request: ExecuteInput) -> ExecuteResult:
    """Run code in a fresh sandbox slot and file what it left in the store; shared by reuse and authoring."""
    workspace = await asyncio.to_thread(WorkspaceStore(get_store()).get, request.workspace_id)
    job = SandboxJob(
        code=code,
        params=request.parameters,
        start_url=request.start_url,
        run_id=request.web_task_id,
        deadline=request.deadline.timestamp(),
        proxy=request.proxy,
        block_private_network=not (workspace and workspace.allow_private_network),
    )
    started_at = utcnow()
    attributes = {
        **telemetry.run_attributes(request.web_task_id, request.reuse_key, request.attempt),
        "webtasks.kind": request.kind,
        "webtasks.revision_id": request.revision_id,
    }
    with telemetry.span("sandbox: run the automation", attributes) as span:
        try:
            outcome = await pool.run(job)
        except SandboxError as exc:
            raise non_retryable(SANDBOX_UNAVAILABLE, f"the browser sandbox could not start: {exc}") from exc
        span.set_attribute("webtasks.ok", outcome.ok)
    try:
        with telemetry.span("store: file the attempt's output and artifacts", attributes):
            return await asyncio.to_thread(_collect, request, outcome, started_at)
    finally:
        outcome.cleanup()


def _collect(request: ExecuteInput, outcome: SandboxOutcome, started_at: datetime) -> ExecuteResult:
    """Move what the sandbox left into the store and describe it; safe to repeat on retry."""
    store = get_store()

    def key(name: str) -> str:
        return attempt_object(request.web_task_id, request.attempt, name)

    artifacts = ArtifactRefs()
    lines = outcome.log_lines()
    if lines:
        store.put(key("log.jsonl"), "".join(json.dumps(line) + "\n" for line in lines).encode())
        artifacts.log = key("log.jsonl")
    for name, field in (("trace.zip", "trace"), ("screenshot.png", "screenshot")):
        if (path := outcome.artifact(name)) is not None:
            store.put_file(key(name), path)
            setattr(artifacts, field, key(name))
    file_ids = []
    for saved in outcome.files:
        source = outcome.workdir / "files" / saved["fileId"]
        if source.is_file():
            store.put_file(run_file(request.web_task_id, saved["fileId"]), source)
            file_ids.append(saved["fileId"])
    result = ExecuteResult(
        ok=outcome.ok,
        artifacts=artifacts,
        file_ids=file_ids,
        started_at=started_at,
        ended_at=utcnow(),
        compute_seconds=outcome.elapsed,
    )
    if outcome.ok:
        result.output_ref = key("output.json")
        result.output_bytes = outcome.output_path.stat().st_size
        store.put_file(result.output_ref, outcome.output_path)
        return result
    error = outcome.error or {}
    result.failure = AttemptFailure(
        reason="timeout" if outcome.timed_out else "sandbox-error" if error.get("sandbox") else "automation-failed",
        message=str(error.get("message", "the automation failed")),
        exception_type=error.get("exceptionType"),
        traceback=error.get("traceback"),
        url=outcome.url,
        log_tail=[line.get("message", "") for line in lines[-LOG_TAIL_LINES:]] or None,
        snapshot=outcome.snapshot,
    )
    return result
