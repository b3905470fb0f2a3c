"""Streaming a stored version back to the client with flat memory, under ASGI and WSGI alike.

Django's ``FileResponse`` yields a synchronous iterator; under ASGI Django then reads the *whole*
iterator into a list before sending (with a warning), which would hold a 2 GB file in memory.
:class:`BlobFileResponse` gives the ASGI handler an asynchronous iterator that reads one chunk at a
time in a worker thread; WSGI keeps using the ordinary synchronous iterator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.http import FileResponse
from django.utils.http import content_disposition_header

from commonroom.documents.models import Version

CHUNK = 1024 * 1024


class BlobFileResponse(FileResponse):
    block_size = CHUNK

    async def __aiter__(self) -> AsyncIterator[bytes]:
        filelike: Any = self.file_to_stream
        if filelike is None:
            return
        read = sync_to_async(filelike.read, thread_sensitive=False)
        while chunk := await read(self.block_size):
            yield chunk


def version_file_response(version: Version) -> BlobFileResponse:
    """Always an attachment, with the type we detected and ``nosniff``: never run in the page."""
    handle = default_storage.open(version.blob.storage_name, "rb")
    response = BlobFileResponse(handle, content_type=version.content_type)
    response["Content-Disposition"] = str(content_disposition_header(True, version.filename))
    response["Content-Length"] = str(version.size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Digest"] = f"sha-256={version.blob_id}"
    response["ETag"] = f'"{version.blob_id}"'
    return response
