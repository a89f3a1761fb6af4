"""`webtasks automations try`: run code once in the same sandbox as the service, with no Temporal."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from webtasks.automation import check_code
from webtasks.config import Settings, settings
from webtasks.sandbox.pool import SandboxJob, SandboxPool
from webtasks.validation import schema_errors


@dataclass
class TrialResult:
    ok: bool
    output: Any = None
    error: dict[str, Any] | None = None
    validation_errors: list[str] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    url: str | None = None
    seconds: float = 0.0


async def try_code(
    code: str,
    *,
    start_url: str | None,
    params: dict[str, Any],
    output_schema: dict[str, Any] | None = None,
    timeout_seconds: int = 300,
    headed: bool = False,
    conf: Settings | None = None,
) -> TrialResult:
    check_code(code)
    conf = conf or settings()
    pool = SandboxPool(conf, headed=headed)
    job = SandboxJob(
        code=code,
        params=params,
        start_url=start_url,
        run_id=f"try_{uuid.uuid4().hex[:10]}",
        deadline=time.time() + timeout_seconds,
    )
    outcome = await pool.run(job)
    try:
        trial = TrialResult(ok=outcome.ok, error=outcome.error, log=outcome.log_lines(), url=outcome.url)
        trial.seconds = outcome.elapsed
        if outcome.ok:
            trial.output = json.loads(outcome.output_path.read_text())
            if output_schema is not None:
                trial.validation_errors = schema_errors(output_schema, trial.output)
                trial.ok = not trial.validation_errors
        return trial
    finally:
        outcome.cleanup()
        await pool.close()
