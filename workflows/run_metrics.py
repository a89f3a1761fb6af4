"""A finished run's metrics, through Temporal's metric meter: nothing is recorded while replaying.

The worker exports them (Prometheus format) when `WEBTASKS_METRICS_ADDRESS` is set; see
`webtasks.telemetry`. Model tokens are counted where they are known, in the authoring activity.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from webtasks.models import WebTaskResult


def record_run(result: WebTaskResult, workspace_id: str) -> None:
    meter = workflow.metric_meter().with_additional_attributes({"workspace": workspace_id})
    outcome = result.outcome or result.status
    code = result.error.code if result.error else ""
    meter.create_counter("webtasks_runs", "runs ended, by outcome and error code").add(
        1, {"outcome": outcome, "code": code}
    )
    attempts = meter.create_counter("webtasks_attempts", "executions of code, by kind and outcome")
    for attempt in result.attempts or []:
        attempts.add(1, {"kind": attempt.kind, "outcome": attempt.outcome})
    if result.started_at is not None:
        meter.create_histogram_float("webtasks_queue_wait_seconds", "from accepted to started", "s").record(
            (result.started_at - result.created_at).total_seconds()
        )
    if result.cost is not None:
        meter.create_histogram_float("webtasks_browser_seconds", "browser execution time of a run", "s").record(
            result.cost.compute * 3600
        )
        meter.create_histogram_float("webtasks_ai_usd", "model spend of a run", "USD").record(result.cost.ai_usd)
