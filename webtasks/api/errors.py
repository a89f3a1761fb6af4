"""The error body of api.md for every failure, and the handlers that produce it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from webtasks.ids import new_correlation_id
from webtasks.models import ApiErrorBody

log = logging.getLogger("webtasks.api")

CATEGORIES = {401: "auth", 403: "auth", 503: "infrastructure", 500: "infrastructure"}
DEFAULT_CODES = {
    400: "bad-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    422: "invalid-request",
    429: "too-many-requests",
    500: "internal-error",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or DEFAULT_CODES.get(status, "error")
        self.message = message
        self.details = details


def error_response(request: Request, status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    correlation_id = getattr(request.state, "correlation_id", None) or new_correlation_id()
    body = ApiErrorBody(
        code=code,
        category=CATEGORIES.get(status, "user"),
        message=message,
        details=details,
        correlation_id=correlation_id,
    )
    return JSONResponse(body.wire(), status_code=status, headers={"x-correlation-id": correlation_id})


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _what_to_fix(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "is invalid"))
    return message.removeprefix("Value error, ")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            where = next((e.get("ctx", {}).get("error", "") for e in errors if e.get("type") == "json_invalid"), "")
            return error_response(
                request, 400, "bad-request", f"the body is not valid JSON ({where}); send a JSON object"
            )
        if any(e.get("type") == "model_attributes_type" or (e.get("loc") == ("body",)) for e in errors):
            return error_response(request, 400, "bad-request", "the body must be a JSON object")
        details = [{"field": _field(tuple(e.get("loc", ()))), "message": _what_to_fix(e)} for e in errors]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        return error_response(request, 422, "invalid-request", f"fix these fields: {summary}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {404: "no such resource; check the path", 405: "method not allowed on this path"}.get(
            exc.status_code, str(exc.detail)
        )
        return error_response(request, exc.status_code, DEFAULT_CODES.get(exc.status_code, "error"), message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal-error", "the server failed on this request; it was logged")
