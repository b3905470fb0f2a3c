"""Preview pages: a version's preview as an HTML fragment (what the document page shows, what
live.js fetches when a preview becomes ready, and what preview-wait.js asks for again while it is
being prepared) and the files a preview shows (its images).

Both answer 404 to non-members, and carry ``nosniff`` and a Content-Security-Policy stricter than
the pages': nothing may run, and images come only from here. A preview's file is shown in the
page only when it is a picture (``INLINE_TYPES``); anything else is an attachment, sent as
``application/octet-stream`` if a browser could run it, and every file is sandboxed and
same-origin only (``core.downloads``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from commonroom.core.downloads import attachment, protect, served_type
from commonroom.core.exceptions import NotFound
from commonroom.core.responses import ChunkedFileResponse
from commonroom.core.views import AuthedRequest, info
from commonroom.core.watermark import print_footer
from commonroom.documents.selectors import document_access, version_get
from commonroom.previews import services
from commonroom.previews.selectors import (
    compare_pair,
    overlay_tile,
    preview_file_get,
    preview_for,
    reader_watermark,
    versions_compare,
)
from commonroom.previews.watermark import print_stylesheet, watermarked_file

PREVIEW_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def _strict(response: HttpResponse | FileResponse) -> None:
    response["Content-Security-Policy"] = PREVIEW_CSP
    response["X-Content-Type-Options"] = "nosniff"


@login_required
@require_GET
def version_preview(
    request: AuthedRequest, workspace_id: str, document_id: str, number: int
) -> HttpResponse:
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    version = version_get(doc_access=doc_access, number=number)
    preview = preview_for(doc_access=doc_access, version=version, reader=request.user)
    if not preview.pending:
        # A page waiting for a preview asks again until it is made (preview-wait.js): only
        # what was shown is a reading.
        services.preview_record_view(
            actor=request.user, doc_access=doc_access, version=version, info=info(request)
        )
    response = render(
        request,
        "previews/_preview.html",
        {
            "workspace": doc_access.access.workspace,
            "document": doc_access.document,
            "preview": preview,
        },
    )
    _strict(response)
    return response


@login_required
@require_GET
def preview_file(
    request: AuthedRequest, workspace_id: str, document_id: str, number: int, name: str
) -> HttpResponse | FileResponse:
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    version = version_get(doc_access=doc_access, number=number)
    try:
        found = preview_file_get(version=version, name=name)
    except NotFound:
        # A PDF page, drawn now (within the reader's budget of new pages a minute).
        found = services.pdf_page_file(version=version, name=name, reader_id=request.user.pk)
    inline = found.content_type in INLINE_TYPES
    watermark = reader_watermark(doc_access=doc_access, reader=request.user)
    response: HttpResponse | FileResponse
    if inline and watermark is not None:
        # Drawn for this reader (from the shared picture, which stays as it is).
        data, content_type = watermarked_file(found, watermark)
        response = HttpResponse(data, content_type=content_type)
        response["Content-Length"] = str(len(data))
    elif not inline and watermark is not None:
        # Only pictures can carry a watermark: anything else of a preview is a download.
        raise NotFound()
    else:
        response = ChunkedFileResponse(
            default_storage.open(found.storage_name, "rb"),
            content_type=found.content_type
            if inline
            else served_type(found.content_type, found.name),
        )
        response["Content-Length"] = str(found.size)
    response["Cache-Control"] = "private, max-age=3600"
    _strict(response)
    if inline:
        response["Content-Disposition"] = str(content_disposition_header(False, found.name))
        protect(response)
    else:
        attachment(response, filename=found.name)
    return response


@login_required
@require_GET
def version_compare(request: AuthedRequest, workspace_id: str, document_id: str) -> HttpResponse:
    """Two versions compared: ``?a=<older>&b=<newer>`` (default: the latest against the one
    before) and ``view=side`` for side by side."""
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    pair = compare_pair(doc_access=doc_access, a=request.GET.get("a"), b=request.GET.get("b"))
    comparison = None
    if pair is not None:
        old, new = pair
        services.compare_record_view(
            actor=request.user, doc_access=doc_access, old=old, new=new, info=info(request)
        )
        comparison = versions_compare(doc_access=doc_access, old=old, new=new)
    side = request.GET.get("view") == "side"
    watermark = reader_watermark(doc_access=doc_access, reader=request.user)
    return render(
        request,
        "previews/compare.html",
        {
            "workspace": doc_access.access.workspace,
            "document": doc_access.document,
            "numbers": range(doc_access.document.current_version_number, 0, -1),
            "comparison": comparison,
            "side": side,
            "watermark": watermark,
            "can_download": doc_access.can("download"),
            "watermark_tile": overlay_tile(watermark) if watermark is not None else None,
        },
    )


@login_required
@require_GET
def print_sheet(request: AuthedRequest, workspace_id: str, document_id: str) -> HttpResponse:
    """The reader's print stylesheet for the document's page: who printed it and when, in every
    sheet's footer, and their watermark at the head when they may not download."""
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    css = print_stylesheet(
        footer=print_footer(request.user),
        watermark=reader_watermark(doc_access=doc_access, reader=request.user),
    )
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    _strict(response)
    return response
