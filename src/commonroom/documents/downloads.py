"""Streaming a version back to the client with flat memory, under ASGI and WSGI alike, whole or
one byte range at a time.

Django's ``FileResponse`` yields a synchronous iterator; under ASGI Django then reads the *whole*
iterator into a list before sending (with a warning), which would hold a 2 GB file in memory.
:class:`BlobFileResponse` (a ``core.responses.ChunkedFileResponse``) gives the ASGI handler an
asynchronous iterator that reads one chunk at a time in a worker thread; WSGI keeps using the
ordinary synchronous iterator.

The file is named after the document and the version (``filenames.download_name``: "Board
minutes (version 3).docx"), not after whatever name the upload had. What is sent is
:func:`documents.stamping.download_file`: an Office file's stamped copy (made
once per version and kept), anything else as stored. Size, ``ETag`` (the SHA-256 of exactly the
bytes sent for the whole file) and byte ranges all describe that one file, and a version's file
never changes, so a download resumed with ``Range`` (and ``If-Range``) gets the rest of the
same bytes. One range per request (``bytes=a-b``, ``a-``, ``-n``); several ranges, or an
``If-Range`` that names something else, get the whole file (200), as HTTP allows; a range past
the end gets 416. HEAD answers the same headers as GET. An external guest's PDF stamped with
their watermark (``services.version_download``'s ``Download.file``) is made for that one
download and sent whole, under the same name, with no byte ranges.

On object storage (``COMMONROOM_STORAGE=s3``) the stored bytes do not pass through here: once
the download is authorised and audited, the answer is a redirect (302) to a short-lived signed
URL of the object whose query makes S3 send it under the same name and type
(:func:`_from_store`); S3 answers ranges itself. What is made for a download (a stamped or
watermarked copy) is still sent from here.

Every answer is an attachment that nothing may run (``core.downloads``): a JavaScript, HTML,
SVG or XML file goes as ``application/octet-stream``, in a sandbox, same-origin only.
"""

from __future__ import annotations

import re
from typing import IO

from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.utils.http import content_disposition_header

from commonroom.core.downloads import attachment, served_type
from commonroom.core.responses import ChunkedFileResponse
from commonroom.documents.filenames import download_name
from commonroom.documents.models import Document, Version
from commonroom.documents.stamping import DownloadFile, download_copy, stored_file

CHUNK = 1024 * 1024
_RANGE = re.compile(r"^bytes=(?:(\d{1,19})-(\d{0,19})|-(\d{1,19}))$")


class BlobFileResponse(ChunkedFileResponse):
    block_size = CHUNK


class _Slice:
    """Reads ``length`` bytes of ``handle`` from ``start``, then nothing (a byte range)."""

    def __init__(self, handle: IO[bytes], start: int, length: int) -> None:
        handle.seek(start)
        self._handle = handle
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size < 0 else min(size, self._left)
        data = self._handle.read(size)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()


def requested_range(request: HttpRequest, size: int, etag: str) -> tuple[int, int] | bool | None:
    """The one byte range asked for, as ``(first, last)`` inclusive; ``None`` for the whole
    file; ``False`` when the range cannot be satisfied (416)."""
    header = request.headers.get("Range", "").replace(" ", "")
    if not header or request.method not in ("GET", "HEAD"):
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        return None  # the client's copy is another file (or dated): send it all
    found = _RANGE.match(header)
    if found is None:
        return None  # several ranges, or a unit we do not know: the whole file
    first, last, suffix = found.groups()
    if suffix is not None:
        length = int(suffix)
        if length == 0 or size == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # not a valid range: ignored
    if start >= size:
        return False
    return start, min(int(last) if last else size - 1, size - 1)


def _from_store(
    request: HttpRequest, version: Version, *, name: str, content_type: str
) -> HttpResponseBase | None:
    """On object storage (``core.s3_storage``), a redirect (302) to a short-lived signed URL
    of the stored bytes, S3 answering with the download's name and type: the bytes do not pass
    through this process. ``None`` on the filesystem storage."""
    download_url = getattr(default_storage, "download_url", None)
    if download_url is None:
        return None
    url = download_url(
        version.blob.storage_name,
        filename_header=str(content_disposition_header(True, name)),
        content_type=content_type,
        method="HEAD" if request.method == "HEAD" else "GET",
    )
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "private, no-store"  # the URL is a short-lived credential
    response["Referrer-Policy"] = "no-referrer"
    return response


def version_file_response(
    request: HttpRequest,
    version: Version,
    *,
    document: Document,
    made: DownloadFile | None = None,
) -> HttpResponseBase:
    """Always an attachment named after ``document`` and the version, with the type we
    detected (``application/octet-stream`` for an active one), ``nosniff`` and a sandbox:
    never run in the page. ``made``: a copy made for this reader (their watermark), sent
    whole: it is made again for each download, so no byte range of it is offered."""
    content_type = served_type(version.content_type, version.filename)
    if made is not None:
        response = BlobFileResponse(made.handle, content_type=content_type)
        response["Content-Length"] = str(made.size)
        response["Digest"] = f"sha-256={made.sha256}"
        attachment(
            response, filename=download_name(document.name, version.number, version.filename)
        )
        return response
    name = download_name(document.name, version.number, version.filename)
    file = download_copy(version)
    if file is None:
        to_store = _from_store(request, version, name=name, content_type=content_type)
        if to_store is not None:
            return to_store
        file = stored_file(version)
    etag = f'"{file.sha256}"'
    wanted = requested_range(request, file.size, etag)
    if wanted is False:
        file.handle.close()
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{file.size}"
        refused["Accept-Ranges"] = "bytes"
        refused["ETag"] = etag
        return refused
    if isinstance(wanted, tuple):
        first, last = wanted
        response = BlobFileResponse(
            _Slice(file.handle, first, last - first + 1),
            content_type=content_type,
            status=206,
        )
        response["Content-Range"] = f"bytes {first}-{last}/{file.size}"
        response["Content-Length"] = str(last - first + 1)
    else:
        response = BlobFileResponse(file.handle, content_type=content_type)
        response["Content-Length"] = str(file.size)
    attachment(response, filename=name)
    response["Accept-Ranges"] = "bytes"
    response["Digest"] = f"sha-256={file.sha256}"
    response["ETag"] = etag
    return response
