"""The local-directory store: one file per object under the data directory."""

from __future__ import annotations

import fcntl
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from webtasks.store.base import NotFound, StoreUnavailable
from webtasks.store.signing import FileGrant, sign


class LocalStore:
    def __init__(self, root: Path, *, secret: bytes, base_url: str) -> None:
        self.root = root
        self.secret = secret
        self._base_url = base_url.rstrip("/")

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"bad store key: {key!r}")
        return self.root / "objects" / key

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        lock_path = self.root / "locks" / (key.replace("/", "__") + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise StoreUnavailable(f"cannot write {key}: {exc.strerror}") from exc

    def put_file(self, key: str, source: Path) -> None:
        """Move a finished file into the store without reading it into memory."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.replace(source, tmp)
        except OSError:
            import shutil

            shutil.copyfile(source, tmp)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(key) from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {key}: {exc.strerror}") from exc

    def open_path(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(key)
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise NotFound(key) from None

    def list(self, prefix: str) -> list[str]:
        base = self.root / "objects"
        start = base / prefix if not prefix.endswith("/") else base / prefix.rstrip("/")
        directory = start if start.is_dir() else start.parent
        if not directory.is_dir():
            return []
        keys = []
        for path in directory.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(base).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        with self._locked(key):
            if self.exists(key):
                return False
            self.put(key, data)
            return True

    def swap(self, key: str, expected: bytes | None, new: bytes) -> bool:
        with self._locked(key):
            try:
                current: bytes | None = self.get(key)
            except NotFound:
                current = None
            if current != expected:
                return False
            self.put(key, new)
            return True

    def signed_url(self, key: str, *, file_name: str, content_type: str, ttl_seconds: int) -> tuple[str, datetime]:
        expires = int(time.time()) + ttl_seconds
        token = sign(self.secret, FileGrant(key=key, file_name=file_name, content_type=content_type, expires=expires))
        return f"{self._base_url}/files/{quote(token)}", datetime.fromtimestamp(expires, UTC)

    def check_writable(self) -> None:
        self.put("health/probe", b"ok")
