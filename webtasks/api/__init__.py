"""The HTTP API (FastAPI): stateless; validates, authenticates, starts workflows, reads results."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from opentelemetry.trace import SpanKind

from webtasks import telemetry
from webtasks.api import automations, files, health, web_tasks
from webtasks.api.deps import RateLimiter, TemporalConnection
from webtasks.api.errors import error_response, install_error_handlers
from webtasks.config import settings
from webtasks.ids import new_correlation_id
from webtasks.models import MAX_BODY_BYTES
from webtasks.store import get_store
from webtasks.store.workspaces import WorkspaceStore


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        conf = settings()
        WorkspaceStore(get_store()).ensure_local(conf.credentials_file, conf.base_url)
        yield
        telemetry.shutdown()

    app = FastAPI(
        title="Webtasks",
        version="0.1.0",
        summary="Web tasks in plain English, done in a real browser; saved code reruns with no AI.",
        lifespan=lifespan,
    )
    app.state.temporal = TemporalConnection()
    app.state.rate_limiter = RateLimiter()
    install_error_handlers(app)

    @app.middleware("http")
    async def envelope(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Give every request a correlation id and refuse bodies over 1 MiB before reading them."""
        request.state.correlation_id = request.headers.get("x-correlation-id") or new_correlation_id()
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return error_response(request, 413, "payload-too-large", "the body is over 1 MiB; pass large inputs by URL")
        if request.method in ("POST", "PUT") and not length:
            body = await request.body()
            if len(body) > MAX_BODY_BYTES:
                return error_response(
                    request, 413, "payload-too-large", "the body is over 1 MiB; pass large inputs by URL"
                )
        response = await call_next(request)
        response.headers["x-correlation-id"] = request.state.correlation_id
        return response

    if telemetry.tracing_enabled():

        @app.middleware("http")
        async def traced(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            """A server span per request; workflows started while handling it join its trace."""
            attributes = {"http.request.method": request.method, "url.path": request.url.path}
            with telemetry.span(f"{request.method} {request.url.path}", attributes, kind=SpanKind.SERVER) as span:
                response = await call_next(request)
                span.set_attribute("http.response.status_code", response.status_code)
                return response

    for module in (web_tasks, automations, files, health):
        app.include_router(module.router)
    return app


app = create_app()
