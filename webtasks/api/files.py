"""Downloads of stored files through HMAC-signed, expiring tokens (local store only)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from webtasks.api.errors import ApiError
from webtasks.store import NotFound, get_store
from webtasks.store.signing import TokenExpired, TokenInvalid, verify

router = APIRouter(tags=["files"])


@router.get("/files/{token}")
def download(token: str) -> FileResponse:
    store = get_store()
    try:
        grant = verify(store.secret, token)
    except TokenExpired as exc:
        raise ApiError(410, str(exc), code="expired") from None
    except TokenInvalid as exc:
        raise ApiError(403, str(exc), code="forbidden") from None
    try:
        path = store.open_path(grant.key)
    except NotFound:
        raise ApiError(404, "the file behind this link no longer exists") from None
    return FileResponse(path, media_type=grant.content_type, filename=grant.file_name)
