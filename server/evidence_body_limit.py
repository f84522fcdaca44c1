"""Body limits per kind of request: an owner's upload chunk may be far larger than an API body.

Requests under ``/upload/`` (the owners' upload page) get ``upload_max_bytes``; every other
request keeps the API's limit. Both are refused with 413 by ``server.body_limit.BodySizeLimit``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from server.body_limit import BodySizeLimit

UPLOAD_PATHS = "/upload/"


class BodySizeLimits:
    def __init__(self, app: ASGIApp, max_bytes: int, upload_max_bytes: int, hint: str = "") -> None:
        self._api = BodySizeLimit(app, max_bytes, hint)
        self._uploads = BodySizeLimit(app, upload_max_bytes, "; send the file in smaller chunks")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        uploading = scope["type"] == "http" and str(scope["path"]).startswith(UPLOAD_PATHS)
        await (self._uploads if uploading else self._api)(scope, receive, send)
