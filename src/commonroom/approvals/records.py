"""The certificate of a final record: the approved version rendered and followed by who
approved what and when, signed by the installation (``certificates``), for the page and the
API alike.

Made in the background when the record is sealed (``tasks.prepare_certificate``), or at the
first download if that comes first, and kept under ``certificates/<request id>.pdf`` in
storage: a record's approval never changes once given, so every download is the same signed
file, as quick as any download. Downloading it is audited, as a version's download is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from commonroom.approvals.models import ApprovalRequest, Decision, Rule
from commonroom.approvals.selectors import record_request
from commonroom.audit.actions import Action
from commonroom.audit.services import audit_record
from commonroom.certificates.page import CertificateFacts, HistoryLine, rule_words
from commonroom.certificates.page import Decision as Decided
from commonroom.core.exceptions import Conflict
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.documents.filenames import clean_filename
from commonroom.documents.selectors import DocumentAccess, version_get
from commonroom.documents.services import download_refuse_watermarked, download_require
from commonroom.previews.blocks import blocks_in
from commonroom.previews.selectors import ready_preview_html

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.documents.models import Version

log = logging.getLogger(__name__)
PDF_TYPE = "application/pdf"


@dataclass(frozen=True)
class Certificate:
    data: bytes
    filename: str


def _storage_name(request: ApprovalRequest) -> str:
    return f"certificates/{request.pk}.pdf"


def certificate_facts(request: ApprovalRequest, version: Version) -> CertificateFacts:
    """What the certificate of ``request`` (approved, so ``version`` is a record) says."""
    approvers = list(request.approvers.select_related("user").order_by("pk"))
    counted = [a for a in approvers if a.decision != Decision.REMOVED]
    required = len(counted) if request.rule == Rule.ALL else request.required
    assert version.record_at is not None  # noqa: S101 - a record's version has its time
    return CertificateFacts(
        workspace=request.workspace.name,
        document_id=str(request.document_id),
        document_name=request.document.name,
        version_number=version.number,
        file_name=version.filename,
        size=version.size,
        sha256=version.blob_id,
        sealed_at=version.record_at,
        rule=rule_words(required, len(counted)),
        decisions=tuple(
            Decided(
                name=a.user.display_name + (" (guest)" if a.user.is_guest else ""),
                email=a.user.email,
                outcome=a.decision,
                at=a.decided_at or a.removed_at,
                reason=a.reason,
                version_sha256=a.sha256,
            )
            for a in approvers
        ),
        history=tuple(HistoryLine(at=h.at, text=h.text) for h in request.history.all()),
    )


def _made(request: ApprovalRequest, version: Version) -> bytes:
    """The signed certificate, from the file, else from its preview's text (never with the
    marks a page adds to a preview: comment markers, suggestions' redlines)."""
    # pyHanko, pypdf and aiohttp are loaded when a certificate is made, not with the API.
    from commonroom.certificates.signing import certificate_pdf

    with default_storage.open(version.blob.storage_name, "rb") as f:
        data = f.read()
    html = ready_preview_html(version.blob_id) or ""
    return certificate_pdf(
        certificate_facts(request, version),
        data=data,
        preview_html=html,
        preview_blocks=[b.text for b in blocks_in(html) if not b.aside] if html else [],
    )


def _kept(request: ApprovalRequest, version: Version) -> bytes:
    """The certificate kept for ``request``, made (and kept) first if there is none yet. Two
    first makers at once each keep theirs under a name of its own: either file is good."""
    name = _storage_name(request)
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as f:
            return f.read()
    data = _made(request, version)
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(data))
    return data


def certificate_prepare(*, request_id: Any) -> bool:
    """After a record is sealed (a background task): make and keep its certificate, so the
    first download is as quick as any. Whether one was made (False: not an approved request,
    or already made)."""
    request = (
        ApprovalRequest.objects.select_related("version__blob", "document", "workspace")
        .filter(pk=request_id, state="approved")
        .first()
    )
    if request is None or request.version.record_at is None:
        return False
    if default_storage.exists(_storage_name(request)):
        return False
    _kept(request, request.version)
    return True


CERTIFICATE_WATERMARKED = (
    "This workspace watermarks the PDFs external guests download, and a certificate carries "
    "the record's pages without your watermark: download the version itself from the "
    "document's page, where it comes with your name on every page."
)


def record_certificate(
    *, actor: User, doc_access: DocumentAccess, number: Any, info: RequestInfo = SYSTEM
) -> Certificate:
    """Version ``number``'s certificate, for anyone who may download the document (its pages
    are in it: decision 27); refused with a sentence when that version is not a final record
    approved here."""
    download_require(
        actor=actor, doc_access=doc_access, what="certificate", number=number, info=info
    )
    version = version_get(doc_access=doc_access, number=number)
    request = record_request(doc_access=doc_access, version_number=version.number)
    if version.record_at is None or request is None:
        raise Conflict(
            f"Version {version.number} is not a final record: only an approved version has a "
            "certificate.",
            code="not_a_record",
        )
    # A PDF record's certificate carries its pages as they are: a guest whose PDFs this
    # workspace watermarks downloads the version itself, stamped, instead (decision 28).
    download_refuse_watermarked(
        actor=actor,
        doc_access=doc_access,
        what="certificate",
        version=version,
        message=CERTIFICATE_WATERMARKED,
        info=info,
    )
    data = _kept(request, version)
    with transaction.atomic():
        audit_record(
            action=Action.RECORD_CERTIFICATE_DOWNLOADED,
            actor=actor,
            info=info,
            workspace_id=doc_access.document.workspace_id,
            document_id=doc_access.document.pk,
            target_type="document",
            target_id=str(doc_access.document.pk),
            target_label=doc_access.document.name,
            data={"version": version.number, "sha256": version.blob_id, "request": str(request.pk)},
        )
    named = f"{doc_access.document.name} (version {version.number} certificate).pdf"
    return Certificate(data=data, filename=clean_filename(named))
