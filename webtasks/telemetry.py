"""OpenTelemetry traces and metrics, configured by the standard `OTEL_*` variables.

One trace follows a run from the API request through `StartWorkflow`, the workflow and its
activities down to the browser steps (sandbox slot, automation, model calls, browser tools), through
temporalio's `TracingInterceptor`. Exporters come from `OTEL_TRACES_EXPORTER` (`otlp`, `console`,
`none`; `otlp` when only `OTEL_EXPORTER_OTLP_ENDPOINT` is set), tracing is off when neither is set.
The console exporter writes one JSON object a line, so development logs stay greppable.

Metrics (runs by outcome, attempts by kind, queue wait, model tokens and cost, browser time) are
recorded with Temporal's replay-safe metric meter and exported by the worker's runtime in Prometheus
format when `WEBTASKS_METRICS_ADDRESS` (host:port) is set.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from temporalio.client import Interceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

log = logging.getLogger("webtasks.telemetry")

TRACER_NAME = "webtasks"


def _one_line(span: ReadableSpan) -> str:
    return span.to_json(indent=None) + "\n"


def _exporter_names() -> list[str]:
    names = os.environ.get("OTEL_TRACES_EXPORTER")
    if names is None:
        names = "otlp" if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") else "none"
    return [name.strip() for name in names.split(",") if name.strip() and name.strip() != "none"]


@cache
def tracing_enabled() -> bool:
    """Install this process's tracer provider (once) if an exporter is asked for; False otherwise."""
    names = _exporter_names()
    if not names:
        return False
    service = os.environ.get("OTEL_SERVICE_NAME", "webtasks")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    for name in names:
        if name == "console":
            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(formatter=_one_line)))
        elif name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            log.warning("OTEL_TRACES_EXPORTER=%s is not supported here (use otlp or console); ignored", name)
    trace.set_tracer_provider(provider)
    return True


def interceptors() -> list[Interceptor]:
    """The Temporal client interceptors for this process: tracing when it is on (workers inherit them)."""
    if not tracing_enabled():
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def shutdown() -> None:
    """Flush spans still queued; call before the process exits."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


@contextlib.contextmanager
def span(
    name: str, attributes: Mapping[str, Any] | None = None, *, kind: trace.SpanKind = trace.SpanKind.INTERNAL
) -> Iterator[trace.Span]:
    """A child span of whatever is current (a no-op span when tracing is off); None attributes are left out."""
    clean = {key: value for key, value in (attributes or {}).items() if value is not None}
    with trace.get_tracer(TRACER_NAME).start_as_current_span(name, attributes=clean, kind=kind) as current:
        yield current


def run_attributes(web_task_id: str, reuse_key: str, attempt: int | None = None) -> dict[str, Any]:
    """What every span and log line about a run carries."""
    return {"webtasks.web_task_id": web_task_id, "webtasks.reuse_key": reuse_key, "webtasks.attempt": attempt}


@cache
def runtime() -> Runtime | None:
    """A Temporal runtime that serves metrics in Prometheus format, when `WEBTASKS_METRICS_ADDRESS` is set."""
    address = os.environ.get("WEBTASKS_METRICS_ADDRESS")
    if not address:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
