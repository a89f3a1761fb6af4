"""A run's own model key (BYOK) travels sealed: AES-GCM under a key derived from the server secret.

The API seals it before the workflow starts, so Temporal history only ever holds ciphertext; the
authoring activity unseals it for that run's model calls and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from webtasks.config import settings

_CONTEXT = b"webtasks/byok/v1"


def _aead() -> AESGCM:
    return AESGCM(hashlib.sha256(settings().signing_secret() + _CONTEXT).digest())


def seal(api_key: str) -> str:
    nonce = os.urandom(12)
    return base64.urlsafe_b64encode(nonce + _aead().encrypt(nonce, api_key.encode(), _CONTEXT)).decode()


def unseal(sealed: str) -> str:
    raw = base64.urlsafe_b64decode(sealed.encode())
    try:
        return _aead().decrypt(raw[:12], raw[12:], _CONTEXT).decode()
    except InvalidTag:
        raise ValueError("the run's sealed model key cannot be opened with this server's secret") from None
