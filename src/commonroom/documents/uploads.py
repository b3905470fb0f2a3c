"""Streaming uploads: each file goes to a temporary file on disk while its SHA-256 is computed and
its size checked against ``COMMONROOM_MAX_UPLOAD_BYTES``. Memory use does not grow with file size.

The temporary file is a scratch file (:func:`commonroom.documents.storage.open_scratch`): it has no
name where the filesystem allows (a server killed mid-upload leaves nothing behind), else it is a
``commonroom-upload-*`` file locked while the upload lives, which the sweep removes once its
process has gone.

A refused upload does not raise from inside Django's multipart parser (that would surface as a
500 from the CSRF middleware); the handler stops the parse and leaves the error on the request,
where :func:`upload_error` finds it for the view or API operation to raise.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

from commonroom.core.asgi_limits import too_large_error
from commonroom.core.exceptions import ApplicationError
from commonroom.documents.models import blob_storage_name
from commonroom.documents.storage import (
    UPLOAD_PREFIX,
    UPLOAD_SUFFIX,
    open_scratch,
    scratch_path,
    start_writeback,
)

UPLOAD_ERROR_ATTR = "_commonroom_upload_error"


class TemporaryUploadedFile(UploadedFile):
    """An upload streamed to a scratch file in ``FILE_UPLOAD_TEMP_DIR``; closing it (Django
    does at the end of the request) frees the file. The storage links it into place."""

    def __init__(
        self,
        name: str | None,
        content_type: str | None,
        size: int | None,
        charset: str | None,
        content_type_extra: dict[str, bytes] | None = None,
    ) -> None:
        self.scratch = open_scratch(
            str(settings.FILE_UPLOAD_TEMP_DIR), prefix=UPLOAD_PREFIX, suffix=UPLOAD_SUFFIX
        )
        super().__init__(self.scratch, name, content_type, size, charset, content_type_extra)

    def temporary_file_path(self) -> str:
        return scratch_path(self.scratch)

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):  # a named scratch file already gone
            self.scratch.close()


class HashingUploadHandler(FileUploadHandler):
    # The parser hands the file over up to 256 KiB at a time (Django's default is 64 KiB):
    # fewer calls for the same bytes, and still little held in memory.
    chunk_size = 256 * 1024
    # Every so many bytes written, the disk is asked to start on them (storage.start_writeback).
    writeback_bytes = 8 * 1024 * 1024

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
        self.file = TemporaryUploadedFile(
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )
        self.sha256 = hashlib.sha256()
        self.received = 0
        self.written_back = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.COMMONROOM_MAX_UPLOAD_BYTES:
            self._refuse(too_large_error())
        self.sha256.update(raw_data)
        self.file.write(raw_data)
        if self.received - self.written_back >= self.writeback_bytes:
            self.file.flush()
            pending = self.received - self.written_back
            start_writeback(self.file.fileno(), self.written_back, pending)
            self.written_back = self.received
        return None

    def file_complete(self, file_size: int) -> UploadedFile | None:
        self.file.seek(0)
        self.file.size = file_size
        self.file.sha256 = self.sha256.hexdigest()  # type: ignore[attr-defined]
        return self.file

    def upload_interrupted(self) -> None:
        if hasattr(self, "file"):
            self.file.close()

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


def stored_upload(sha256: str, size: int, *, name: str, content_type: str = "") -> UploadedFile:
    """Bytes already stored as a blob, given as an upload of ``name`` (a document copied, a
    client's scratch file saved as a document): ``services.blob_store`` finds them in place and
    stores nothing again. The caller closes it."""
    handle = default_storage.open(blob_storage_name(sha256), "rb")
    uploaded = UploadedFile(handle, name=name, content_type=content_type or None, size=size)
    uploaded.sha256 = sha256  # type: ignore[attr-defined]
    return uploaded


__all__ = [
    "HashingUploadHandler",
    "TemporaryUploadedFile",
    "stored_upload",
    "upload_error",
    "uploaded_sha256",
]
