"""Refuse an over-size request body before Django spools it to disk.

Django's ASGI handler reads the whole body before the view runs. This wrapper answers 413 at once
when ``Content-Length`` already says the body is too large, and stops a body without a length
(chunked), or one longer than it declared, as soon as it passes the limit, answering 413 there
too. The per-file check in :mod:`commonroom.documents.uploads` still applies inside the limit.

Only the upload routes take bodies up to ``COMMONROOM_MAX_UPLOAD_BYTES``; every other route, signed
in or not, takes no more than Django's own form limit, so nobody can fill the data disk by posting
gigabytes to, say, the sign-in page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

from commonroom.core.exceptions import ApplicationError, TooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Room for the multipart envelope and form fields around the largest allowed file.
ENVELOPE = 1024 * 1024


class BodyTooLarge(Exception):
    pass


_UUID = "[0-9a-fA-F-]{32,36}"
UPLOAD_PATHS = re.compile(
    rf"^/w/{_UUID}/upload/$"
    rf"|^/w/{_UUID}/d/{_UUID}/versions/$"
    rf"|^/api/v1/workspaces/[^/]+/documents/?$"
    rf"|^/api/v1/workspaces/[^/]+/documents/[^/]+/versions/?$"
)


def limit_bytes(path: str = "") -> int:
    """The largest body accepted on ``path``: a whole file on upload routes, a form elsewhere."""
    if UPLOAD_PATHS.match(path):
        return int(settings.COMMONROOM_MAX_UPLOAD_BYTES) + ENVELOPE
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) + ENVELOPE


def human_size(num: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if num < 1024 or unit == "TB":
            return f"{num:.0f} {unit}" if unit == "bytes" else f"{num:.1f} {unit}"
        num /= 1024
    return f"{num:.1f} TB"  # pragma: no cover


def too_large_error() -> TooLarge:
    """The refusal of a file over ``COMMONROOM_MAX_UPLOAD_BYTES``, here or in the upload handler."""
    limit = settings.COMMONROOM_MAX_UPLOAD_BYTES
    return TooLarge(
        f"That file is larger than the limit of {human_size(limit)}. Nothing was saved.",
        code="too_large",
    )


async def send_413(scope: Scope, send: Send) -> None:
    if UPLOAD_PATHS.match(str(scope.get("path", ""))):
        error = too_large_error()
    else:
        error = TooLarge("That request is too large. Nothing was saved.", code="too_large")
    await send_error(send, error, as_json=scope["path"].startswith("/api/"))


async def send_error(send: Send, error: ApplicationError, *, as_json: bool) -> None:
    """Answer with ``error`` before (or instead of) Django: its status, and its message as the
    JSON API's ``{"code", "detail"}`` or as plain text; the connection is closed after it."""
    if as_json:
        body = json.dumps({"code": error.code, "detail": error.message}).encode()
        ctype = b"application/json"
    else:
        body = error.message.encode()
        ctype = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestSizeLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_bytes(str(scope.get("path", "")))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await send_413(scope, send)
                    return
        received = 0
        cut_off = False
        started = False

        async def guarded_receive() -> Message:
            nonlocal received, cut_off
            if cut_off:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django treats a disconnect as an aborted request: nothing is kept.
                    cut_off = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, guarded_receive, watched_send)
        if cut_off and not started:
            # The client is still there: tell it why, rather than leave the server to answer 500.
            await send_413(scope, send)
