"""Reading previews, always for a version the reader already has access to."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from commonroom.comments.selectors import anchored_blocks
from commonroom.core.exceptions import NotFound
from commonroom.documents.models import Version
from commonroom.documents.selectors import DocumentAccess
from commonroom.previews.html import insert_after_blocks
from commonroom.previews.models import Preview, PreviewFile, PreviewStatus

_SRC_REF = re.compile(r'src="\{\{file:([A-Za-z0-9._-]{1,100})\}\}"')


@dataclass
class PreviewView:
    """What the page shows for one version."""

    version: Version
    status: str
    html: SafeString = field(default_factory=lambda: mark_safe(""))
    notes: list[str] = field(default_factory=list)
    message: str = ""
    can_download: bool = False

    @property
    def ready(self) -> bool:
        return self.status == PreviewStatus.READY

    @property
    def pending(self) -> bool:
        return self.status == PreviewStatus.PENDING


_PDF_PAGE = re.compile(r"^page-([1-9][0-9]{0,5})\.png$")


def _drawn_on_demand(preview: Preview, name: str) -> bool:
    """A PDF's page pictures are drawn when first asked for (previews.services.pdf_page_file)."""
    match = _PDF_PAGE.match(name)
    return bool(
        match and preview.kind == "pdf" and 1 <= int(match.group(1)) <= (preview.page_count or 0)
    )


def _marker(block: str, thread_ids: list[str]) -> str:
    """The link beside a block to the first of its open threads: in the margin on a wide screen,
    after the block on a phone (app.css)."""
    n = len(thread_ids)
    return str(
        format_html(
            '<div class="cr-anchors" data-anchor-for="{}" data-threads="{}"><a '
            'class="cr-anchors__link" href="#thread-{}">{} comment{}<span '
            'class="nhsuk-u-visually-hidden"> on this passage</span></a></div>',
            block,
            " ".join(thread_ids),
            thread_ids[0],
            n,
            "" if n == 1 else "s",
        )
    )


def preview_for(*, doc_access: DocumentAccess, version: Version) -> PreviewView:
    """The preview of ``version`` as this reader sees it: its images pointed at the
    permission-checked file route."""
    preview = Preview.objects.filter(blob_id=version.blob_id).first()
    can_download = doc_access.can("download")
    if preview is None:
        return PreviewView(version, PreviewStatus.PENDING, can_download=can_download)
    if preview.status != PreviewStatus.READY:
        return PreviewView(
            version, preview.status, message=preview.message, can_download=can_download
        )
    names = set(preview.files.values_list("name", flat=True))
    ws, doc = doc_access.access.workspace.pk, doc_access.document.pk

    def url(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names and not _drawn_on_demand(preview, name):
            return 'src=""'
        return 'src="' + reverse("preview_file", args=[ws, doc, version.number, name]) + '"'

    # The HTML was sanitised when it was made; only our own URLs and markers (escaped by
    # format_html) are put into it here.
    markers = {
        block: _marker(block, ids)
        for block, ids in anchored_blocks(doc_access=doc_access, version_id=version.pk).items()
    }
    html = mark_safe(insert_after_blocks(_SRC_REF.sub(url, preview.html), markers))  # noqa: S308
    return PreviewView(
        version, preview.status, html=html, notes=list(preview.notes), can_download=can_download
    )


def preview_file_get(*, version: Version, name: str) -> PreviewFile:
    found = PreviewFile.objects.filter(
        preview__blob_id=version.blob_id, preview__status=PreviewStatus.READY, name=name
    ).first()
    if found is None:
        raise NotFound()
    return found
