"""HMAC-signed, expiring download tokens for the local store, served by `GET /files/{token}`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass


class TokenInvalid(ValueError):
    """The token was tampered with or is not a token at all (403)."""


class TokenExpired(ValueError):
    """The token was genuine but its time is up (410)."""


@dataclass(frozen=True)
class FileGrant:
    key: str
    file_name: str
    content_type: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, grant: FileGrant) -> str:
    body = _b64(json.dumps([grant.key, grant.file_name, grant.content_type, grant.expires]).encode())
    mac = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def verify(secret: bytes, token: str, now: float | None = None) -> FileGrant:
    body, _, mac = token.partition(".")
    expected = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    if not mac or not hmac.compare_digest(mac, expected):
        raise TokenInvalid("this download link is not valid; ask the API for a new result URL")
    try:
        key, file_name, content_type, expires = json.loads(_unb64(body))
    except ValueError:
        raise TokenInvalid("this download link is not valid") from None
    if (now if now is not None else time.time()) > expires:
        raise TokenExpired("this download link has expired; fetch the run's result again for a fresh link")
    return FileGrant(key=key, file_name=file_name, content_type=content_type, expires=expires)
