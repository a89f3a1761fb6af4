"""The one definition of every contract: API bodies, workflow and activity inputs and outputs.

API, SDK, CLI, workflows and activities all import from here. Wire names are camelCase (api.md);
`reuse.revision_id` and `reuse.revision_timestamp` stay snake_case because the official client needs it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer, field_validator
from pydantic.alias_generators import to_camel

ModelName = Literal["haiku", "sonnet", "opus"]
RunStatus = Literal["pending", "started", "completed", "canceled"]
Outcome = Literal["success", "failed"]
ErrorCode = Literal[
    "workspace-rate-limited",
    "unauthenticated",
    "no-ai-credits-left",
    "timeout",
    "rejected",
    "internal-error",
]
AttemptKind = Literal["reuse", "author", "repair"]
RevisionSource = Literal["user", "author", "repair", "rollback"]

REUSE_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
MAX_TASK_CHARS = 20_000
MAX_JSON_FIELD_BYTES = 256 * 1024
MAX_BODY_BYTES = 1024 * 1024
INLINE_LIMIT_BYTES = 64 * 1024
PREVIEW_ROWS = 5
FILE_URL_TTL_SECONDS = 7 * 24 * 3600
MIN_TIMEOUT_SECONDS = 10
MAX_TIMEOUT_SECONDS = 7_200
DEFAULT_TIMEOUT_SECONDS = 1_800


def utcnow() -> datetime:
    return datetime.now(UTC)


def rfc3339(value: datetime) -> str:
    """RFC 3339 UTC with millisecond precision and a `Z`, the form every timestamp on the wire takes."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def check_output_schema(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """An output schema must be small and pass draft 2020-12 `check_schema`."""
    if value is None:
        return value
    if json_size(value) > MAX_JSON_FIELD_BYTES:
        raise ValueError("outputSchema must be at most 256 KiB serialized")
    from jsonschema import Draft202012Validator, SchemaError

    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise ValueError(f"outputSchema is not a valid JSON Schema (draft 2020-12) at {where}: {exc.message}") from None
    return value


class Wire(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are ignored (api.md)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    @field_serializer("*", when_used="json", check_fields=False)
    def _timestamps(self, value: Any) -> Any:
        return rfc3339(value) if isinstance(value, datetime) else value

    def wire(self, **kwargs: Any) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, **kwargs)


# ---------------------------------------------------------------- start request / response


class StartRequest(Wire):
    """Body of `POST …/web-tasks/start`. Every rule of api.md lives in these validators."""

    task: str = Field(min_length=1, max_length=MAX_TASK_CHARS)
    start_url: str | None = None
    parameters: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    reuse_key: str | None = Field(default=None, pattern=REUSE_KEY_PATTERN)
    model: ModelName = "haiku"
    proxy: str | None = None
    timeout_seconds: int = Field(default=DEFAULT_TIMEOUT_SECONDS, ge=MIN_TIMEOUT_SECONDS, le=MAX_TIMEOUT_SECONDS)
    anthropic_api_key: SecretStr | None = Field(default=None, exclude=True)

    @field_validator("task")
    @classmethod
    def _task_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("task must describe what to do; it is blank")
        return value

    @field_validator("start_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("startUrl must be an absolute http:// or https:// URL, for example https://example.com/")
        return value

    @field_validator("parameters")
    @classmethod
    def _parameters_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and json_size(value) > MAX_JSON_FIELD_BYTES:
            raise ValueError("parameters must be at most 256 KiB serialized; pass large data by URL instead")
        return value

    @field_validator("output_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_output_schema(value)

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https", "socks5") or not parts.hostname:
            raise ValueError("proxy must be a URL like http://user:pass@host:port, https://… or socks5://host:port")
        return value

    def public(self) -> RunInput:
        """The request as echoed back in results: everything but the caller's own model key."""
        return RunInput.model_validate(self.model_dump(exclude={"anthropic_api_key"}))


class RunInput(Wire):
    """The run's input as shown in `input` of a result (never holds a secret)."""

    task: str
    start_url: str | None = None
    parameters: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    reuse_key: str | None = None
    model: ModelName = "haiku"
    proxy: str | None = None
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS


class ReuseRef(Wire):
    key: str


class StartResponse(Wire):
    web_task_id: str
    status: Literal["pending"] = "pending"
    reuse: ReuseRef


# ---------------------------------------------------------------- result


class Reuse(Wire):
    key: str
    used: bool = False
    created: bool = False
    updated: bool = False
    revision_id: str = Field(alias="revision_id")
    revision_timestamp: datetime = Field(alias="revision_timestamp")


class Cost(Wire):
    ai_usd: float = 0.0
    compute: float = 0.0


class FilePreview(Wire):
    row_count: int | None = None
    sample: list[Any] = Field(default_factory=list)


class ResultFile(Wire):
    url: str
    content_type: str = "application/json"
    size_bytes: int
    expires_at: datetime
    preview: FilePreview | None = None


class InlineResult(Wire):
    type: Literal["inline"] = "inline"
    data: Any = None


class FileResult(Wire):
    type: Literal["file"] = "file"
    file: ResultFile


class RunError(Wire):
    code: ErrorCode
    message: str
    details: dict[str, Any] | None = None


class AttemptArtifacts(Wire):
    trace: str | None = None
    log: str | None = None
    screenshot: str | None = None


class Attempt(Wire):
    n: int
    kind: AttemptKind
    started_at: datetime
    ended_at: datetime
    outcome: Outcome
    error: dict[str, Any] | None = None
    revision_id: str | None = Field(default=None, alias="revision_id")
    artifacts: AttemptArtifacts = Field(default_factory=AttemptArtifacts)


class WebTaskResult(Wire):
    """What `GET …/result` answers, for every status. Also the return value of `WebTaskWorkflow`."""

    web_task_id: str
    status: RunStatus
    outcome: Outcome | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    queue_position: int | None = None
    input: RunInput | None = None
    reuse: Reuse | None = None
    cost: Cost | None = None
    result: InlineResult | FileResult | None = Field(default=None, discriminator="type")
    error: RunError | None = None
    attempts: list[Attempt] | None = None

    def wire(self, **kwargs: Any) -> dict[str, Any]:
        """Drop absent fields, but keep `startedAt: null` where the official client requires the key."""
        body = self.model_dump(mode="json", by_alias=True, exclude_none=True, **kwargs)
        if self.status in ("completed", "canceled"):
            body.setdefault("startedAt", None)
        return body


class RunList(Wire):
    items: list[dict[str, Any]]
    next_cursor: str | None = None


class CancelResponse(Wire):
    web_task_id: str
    status: Literal["canceled"] = "canceled"


class ApiErrorBody(Wire):
    code: str
    category: Literal["user", "auth", "infrastructure"]
    message: str
    details: Any = None
    correlation_id: str


# ---------------------------------------------------------------- automations (saved code)


class RevisionSummary(Wire):
    revision_id: str
    reuse_key: str
    created_at: datetime
    source: RevisionSource
    model: str | None = None
    web_task_id: str | None = None
    has_output_schema: bool = False
    notes: str | None = None


class Revision(RevisionSummary):
    code: str
    output_schema: dict[str, Any] | None = None

    def summary(self) -> RevisionSummary:
        return RevisionSummary.model_validate(
            {**self.model_dump(exclude={"code", "output_schema"}), "has_output_schema": self.output_schema is not None}
        )


class AutomationSummary(Wire):
    reuse_key: str
    current_revision_id: str
    revision_timestamp: datetime
    revision_count: int
    last_run: dict[str, Any] | None = None


class AutomationList(Wire):
    items: list[AutomationSummary]


class AutomationDetail(Wire):
    reuse_key: str
    current: Revision
    revisions: list[RevisionSummary]


class PutAutomationRequest(Wire):
    code: str = Field(min_length=1, max_length=MAX_JSON_FIELD_BYTES)
    output_schema: dict[str, Any] | None = None

    @field_validator("output_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_output_schema(value)


class RollbackRequest(Wire):
    revision_id: str = Field(min_length=1)


# ---------------------------------------------------------------- workspaces


class Workspace(Wire):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str
    api_key_hashes: list[str] = Field(default_factory=list)
    max_concurrent: int = 10
    queue_on_limit: bool = False
    queue_wait_limit_seconds: int = 3_600
    allow_private_network: bool = False
    credits_usd: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)

    def public(self) -> dict[str, Any]:
        return self.wire(exclude={"api_key_hashes"})


# ---------------------------------------------------------------- workflow and activity contracts


class WebTaskInput(BaseModel):
    """Input of `WebTaskWorkflow`. Services that start runs with a Temporal client build this directly.

    `sealed_api_key` is the run's own model key encrypted with `webtasks.ai.keys.seal`; history never
    holds it in clear text.
    """

    web_task_id: str
    workspace_id: str
    reuse_key: str
    request: RunInput
    created_at: datetime | None = None
    sealed_api_key: str | None = None
    max_attempts: int = 3


class WebTaskStatus(BaseModel):
    """Where a running workflow is: the API shows `completed` only once the workflow has closed."""

    status: Literal["pending", "started"]
    started_at: datetime | None = None


class ScreenInput(BaseModel):
    workspace_id: str
    start_url: str | None


class ScreenResult(BaseModel):
    """Whether the run may go on, and the workspace's admission settings as they are now."""

    allowed: bool
    reason: str | None = None
    max_concurrent: int = 10
    queue_on_limit: bool = False
    queue_wait_limit_seconds: int = 3_600


class LoadCodeInput(BaseModel):
    workspace_id: str
    reuse_key: str


class LoadedCode(BaseModel):
    """Reference to the current revision; the code itself stays in the store."""

    revision_id: str
    revision_timestamp: datetime
    has_output_schema: bool


class ExecuteInput(BaseModel):
    """One execution of code: a saved revision (`revision_id`) or a model's submission (`code_ref`)."""

    web_task_id: str
    workspace_id: str
    reuse_key: str
    attempt: int
    kind: AttemptKind
    revision_id: str | None = None
    code_ref: str | None = None
    start_url: str | None
    parameters: dict[str, Any]
    proxy: str | None
    deadline: datetime


class AttemptFailure(Wire):
    """Evidence of a failed attempt: what went wrong, where, and the tail of the log."""

    reason: Literal["automation-failed", "output-invalid", "timeout", "sandbox-error"]
    message: str
    exception_type: str | None = None
    traceback: str | None = None
    url: str | None = None
    validation_errors: list[str] | None = None
    log_tail: list[str] | None = None
    snapshot: str | None = None

    def details(self) -> dict[str, Any]:
        return self.wire(exclude_none=True)


class ArtifactRefs(BaseModel):
    trace: str | None = None
    log: str | None = None
    screenshot: str | None = None


class ExecuteResult(BaseModel):
    ok: bool
    output_ref: str | None = None
    output_bytes: int = 0
    file_ids: list[str] = Field(default_factory=list)
    failure: AttemptFailure | None = None
    artifacts: ArtifactRefs = Field(default_factory=ArtifactRefs)
    started_at: datetime
    ended_at: datetime
    compute_seconds: float = 0.0


class ValidateInput(BaseModel):
    output_ref: str
    output_schema: dict[str, Any] | None = None
    workspace_id: str
    reuse_key: str
    revision_id: str | None = None


class ValidateResult(BaseModel):
    valid: bool
    errors: list[str] = Field(default_factory=list)


class PersistInput(BaseModel):
    """What to deliver: the output (if any), the files it references, each attempt's artifacts."""

    web_task_id: str
    workspace_id: str
    output_ref: str | None = None
    file_ids: list[str] = Field(default_factory=list)
    attempt_artifacts: list[ArtifactRefs] = Field(default_factory=list)


class PersistResult(BaseModel):
    result: InlineResult | FileResult | None = Field(default=None, discriminator="type")
    artifacts: list[AttemptArtifacts] = Field(default_factory=list)


class TokenUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def add(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
        )


class AuthorInput(BaseModel):
    """One authoring conversation: write new code (`author`) or fix failing code (`repair`)."""

    web_task_id: str
    workspace_id: str
    reuse_key: str
    kind: Literal["author", "repair"]
    request: RunInput
    output_schema: dict[str, Any] | None = None
    base_revision_id: str | None = None
    failure: AttemptFailure | None = None
    first_attempt: int = 1
    max_submissions: int = 3
    deadline: datetime
    sealed_api_key: str | None = None


class AuthoredAttempt(BaseModel):
    n: int
    code_ref: str
    output_schema: dict[str, Any] | None = None
    execution: ExecuteResult


class AuthorResult(BaseModel):
    outcome: Literal["success", "rejected", "failed"]
    reason: str | None = None
    attempts: list[AuthoredAttempt] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    model_calls: int = 0
    ai_usd: float = 0.0

    @property
    def winner(self) -> AuthoredAttempt | None:
        last = self.attempts[-1] if self.attempts else None
        return last if self.outcome == "success" and last is not None and last.execution.ok else None


class CreditCheckInput(BaseModel):
    workspace_id: str
    own_key: bool


class CreditCheck(BaseModel):
    allowed: bool
    message: str | None = None
    balance_usd: float | None = None


class ChargeInput(BaseModel):
    workspace_id: str
    web_task_id: str
    usd: float


class SaveRevisionInput(BaseModel):
    workspace_id: str
    reuse_key: str
    code_ref: str
    output_schema: dict[str, Any] | None = None
    source: RevisionSource
    model: str | None = None
    web_task_id: str
    expected_current: str | None
    idempotency_key: str


def reuse_key_is_valid(key: str) -> bool:
    return re.fullmatch(REUSE_KEY_PATTERN, key) is not None
