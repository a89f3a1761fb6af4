"""Settings read from the environment, once, in one place."""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

TASK_QUEUE = "webtasks"
SEARCH_ATTRIBUTES = {
    "WebtasksWorkspace": "Keyword",
    "WebtasksReuseKey": "Keyword",
    "WebtasksOutcome": "Keyword",
    "WebtasksModel": "Keyword",
}


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("WEBTASKS_DATA_DIR", ".webtasks")).resolve())
    temporal_address: str = field(default_factory=lambda: os.environ.get("WEBTASKS_TEMPORAL_ADDRESS", "127.0.0.1:7233"))
    temporal_namespace: str = field(default_factory=lambda: os.environ.get("WEBTASKS_TEMPORAL_NAMESPACE", "default"))
    task_queue: str = field(default_factory=lambda: os.environ.get("WEBTASKS_TASK_QUEUE", TASK_QUEUE))
    api_host: str = field(default_factory=lambda: os.environ.get("WEBTASKS_API_HOST", "127.0.0.1"))
    api_port: int = field(default_factory=lambda: _int("WEBTASKS_API_PORT", 8780))
    public_url: str = field(default_factory=lambda: os.environ.get("WEBTASKS_PUBLIC_URL", ""))
    max_attempts: int = field(default_factory=lambda: _int("WEBTASKS_MAX_ATTEMPTS", 3))
    chromium: str = field(default_factory=lambda: os.environ.get("WEBTASKS_CHROMIUM", ""))
    sandbox: str = field(default_factory=lambda: os.environ.get("WEBTASKS_SANDBOX", "auto"))
    sandbox_memory_mb: int = field(default_factory=lambda: _int("WEBTASKS_SANDBOX_MEMORY_MB", 4096))
    sandbox_cpu_seconds: int = field(default_factory=lambda: _int("WEBTASKS_SANDBOX_CPU_SECONDS", 600))
    sandbox_wall_seconds: int = field(default_factory=lambda: _int("WEBTASKS_SANDBOX_WALL_SECONDS", 900))
    warm_slots: int = field(default_factory=lambda: _int("WEBTASKS_WARM_SLOTS", 2))
    max_browsers: int = field(default_factory=lambda: _int("WEBTASKS_MAX_BROWSERS", 2 * (os.cpu_count() or 1)))

    @property
    def base_url(self) -> str:
        """Where users reach the API; signed file URLs point here."""
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "credentials.json"

    @property
    def temporal_db(self) -> Path:
        return self.data_dir / "temporal.db"

    def signing_secret(self) -> bytes:
        """HMAC key for file tokens: `WEBTASKS_SECRET`, else one generated and kept in the data directory."""
        if env := os.environ.get("WEBTASKS_SECRET"):
            return env.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{secrets.token_hex(4)}")
            tmp.write_text(secrets.token_hex(32))
            tmp.chmod(0o600)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
            tmp.unlink()
        return path.read_text().strip().encode()


@cache
def settings() -> Settings:
    return Settings()
