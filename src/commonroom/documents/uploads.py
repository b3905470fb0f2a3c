"""Streaming uploads: each file goes to a temporary file on disk while its SHA-256 is computed and
its size checked against ``COMMONROOM_MAX_UPLOAD_BYTES``. Memory use does not grow with file size.

A refused upload does not raise from inside Django's multipart parser (that would surface as a
500 from the CSRF middleware); the handler stops the parse and leaves the error on the request,
where :func:`upload_error` finds it for the view or API operation to raise.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest

from commonroom.core.exceptions import ApplicationError, TooLarge

UPLOAD_ERROR_ATTR = "_commonroom_upload_error"


def human_size(num: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if num < 1024 or unit == "TB":
            return f"{num:.0f} {unit}" if unit == "bytes" else f"{num:.1f} {unit}"
        num /= 1024
    return f"{num:.1f} TB"  # pragma: no cover


def too_large_error() -> TooLarge:
    limit = settings.COMMONROOM_MAX_UPLOAD_BYTES
    return TooLarge(
        f"That file is larger than the limit of {human_size(limit)}. Nothing was saved.",
        code="too_large",
    )


class HashingUploadHandler(TemporaryFileUploadHandler):
    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: Any,
        encoding: str | None = None,
    ) -> None:
        os.makedirs(settings.FILE_UPLOAD_TEMP_DIR, exist_ok=True)
        return None

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.sha256 = hashlib.sha256()
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.COMMONROOM_MAX_UPLOAD_BYTES:
            self._refuse(too_large_error())
        self.sha256.update(raw_data)
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> UploadedFile | None:
        uploaded = super().file_complete(file_size)
        if uploaded is not None:
            uploaded.sha256 = self.sha256.hexdigest()  # type: ignore[attr-defined]
        return uploaded

    def _refuse(self, error: ApplicationError) -> None:
        if self.request is not None:
            setattr(self.request, UPLOAD_ERROR_ATTR, error)
        self.file.close()
        raise StopUpload(connection_reset=False)


def upload_error(request: HttpRequest) -> ApplicationError | None:
    """The error a streaming upload stopped with, if any. Reading it parses the body."""
    _ = request.POST  # parse (and so stream) the body if nobody has yet
    return getattr(request, UPLOAD_ERROR_ATTR, None)


def uploaded_sha256(uploaded: UploadedFile) -> str:
    """The hash computed while streaming; computed now for files that came another way."""
    digest = getattr(uploaded, "sha256", None)
    if digest:
        return str(digest)
    h = hashlib.sha256()
    uploaded.seek(0)
    for chunk in uploaded.chunks():
        h.update(chunk)
    uploaded.seek(0)
    digest = h.hexdigest()
    uploaded.sha256 = digest  # type: ignore[attr-defined]
    return digest


__all__ = ["HashingUploadHandler", "TemporaryUploadedFile", "upload_error", "uploaded_sha256"]
