"""Connecting to Temporal, and starting `WebTaskWorkflow` the way the API does.

Services that trigger runs themselves can call `start_web_task` (or copy it): the run then behaves
exactly like one started through the HTTP API and is readable through it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from webtasks import telemetry
from webtasks.ai.keys import seal
from webtasks.config import Settings, settings
from webtasks.ids import new_reuse_key, new_web_task_id
from webtasks.models import RunInput, WebTaskInput, WebTaskResult, utcnow

WORKSPACE = SearchAttributeKey.for_keyword("WebtasksWorkspace")
REUSE_KEY = SearchAttributeKey.for_keyword("WebtasksReuseKey")
MODEL = SearchAttributeKey.for_keyword("WebtasksModel")
# Longest a run can take (the 2 h maximum deadline) plus room for screening and delivery.
RUN_EXECUTION_TIMEOUT = timedelta(hours=3)


async def connect(conf: Settings | None = None, *, runtime: Runtime | None = None) -> Client:
    """A client with the pydantic data converter and, when tracing is on, the tracing interceptor."""
    conf = conf or settings()
    return await Client.connect(
        conf.temporal_address,
        namespace=conf.temporal_namespace,
        data_converter=pydantic_data_converter,
        interceptors=telemetry.interceptors(),
        runtime=runtime,
    )


def new_run(
    request: RunInput,
    *,
    workspace_id: str = "local",
    web_task_id: str | None = None,
    anthropic_api_key: str | None = None,
) -> WebTaskInput:
    """A run of `request`: a fresh webTaskId, the reuseKey given or a generated `wtr_…`, and the run's
    own model key sealed so that workflow history never holds it in clear text."""
    reuse_key = request.reuse_key or new_reuse_key()
    return WebTaskInput(
        web_task_id=web_task_id or new_web_task_id(),
        workspace_id=workspace_id,
        reuse_key=reuse_key,
        request=request.model_copy(update={"reuse_key": reuse_key}),
        created_at=utcnow(),
        sealed_api_key=seal(anthropic_api_key) if anthropic_api_key else None,
        max_attempts=settings().max_attempts,
    )


async def start_web_task(
    client: Client, run: WebTaskInput, *, task_queue: str | None = None
) -> WorkflowHandle[Any, WebTaskResult]:
    """Start `WebTaskWorkflow` for `run` (see `new_run`); the workflow id is the webTaskId."""
    return await client.start_workflow(
        "WebTaskWorkflow",
        run,
        id=run.web_task_id,
        task_queue=task_queue or settings().task_queue,
        result_type=WebTaskResult,
        memo={"task": run.request.task[:2000], "workspace": run.workspace_id},
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(WORKSPACE, run.workspace_id),
                SearchAttributePair(REUSE_KEY, run.reuse_key),
                SearchAttributePair(MODEL, run.request.model),
            ]
        ),
        execution_timeout=RUN_EXECUTION_TIMEOUT,
    )
