"""Who may ask for approval, change a request, and decide: in one place, from the document's
and the workspace's abilities (``documents.permissions``, ``workspaces.permissions``).

- Asking (and asking again on a newer version): the workspace's editors and managers, while it
  is not archived and the document not in the trash. Asking again is offered only where the
  service would take it: on a request that ended without approval, while the document is not
  sealed and has no open request.
- Changing an open request (remind, add or remove approvers, the due date, cancel): the person
  who asked, while they may still ask, and any manager.
- Being asked, and deciding: members who may comment on the document (commenters, editors,
  managers; guests by their role). A viewer or a non-member cannot be asked; one who leaves or
  becomes a viewer drops out of open requests.

A non-member never reaches these: the selectors answer 404 first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypedDict

from commonroom.documents.selectors import DocumentAccess, download_watermark
from commonroom.workspaces.permissions import may_comment
from commonroom.workspaces.services import deny

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.approvals.models import ApprovalRequest

ApprovalAbility = Literal["change", "decide", "ask_again", "download_certificate"]

CANNOT_ASK = "Only the workspace's managers and editors can ask for approval."
CANNOT_CHANGE = "Only the person who asked, or a manager, can change this request."
NOT_ASKED = "You were not asked to approve this version."


class ApprovalAbilities(TypedDict):
    change: bool
    decide: bool
    ask_again: bool
    download_certificate: bool


def may_ask(doc_access: DocumentAccess) -> bool:
    return doc_access.access.can("edit_documents") and not doc_access.document.in_trash


def require_ask(doc_access: DocumentAccess) -> None:
    if not may_ask(doc_access):
        deny(doc_access.access, CANNOT_ASK)


def may_change(doc_access: DocumentAccess, request: ApprovalRequest, actor: User) -> bool:
    if doc_access.access.can("manage_workspace"):
        return True
    return request.requested_by_id == actor.pk and may_ask(doc_access)


def require_change(doc_access: DocumentAccess, request: ApprovalRequest, actor: User) -> None:
    if not may_change(doc_access, request, actor):
        deny(doc_access.access, CANNOT_CHANGE)


def role_may_approve(role: str | None, *, archived: bool) -> bool:
    """Whether a member with ``role`` may be asked to approve (and decide)."""
    return role is not None and may_comment(role, archived=archived)


def approval_abilities(
    doc_access: DocumentAccess,
    request: ApprovalRequest,
    actor: User,
    *,
    pending: bool,
    open_on_document: bool,
) -> ApprovalAbilities:
    """``pending``: the reader is one of the request's approvers still to decide;
    ``open_on_document``: the document has an open request (this one or another)."""
    is_open = request.is_open
    return {
        "change": is_open and may_change(doc_access, request, actor),
        "decide": is_open and pending and doc_access.can("comment"),
        "ask_again": not is_open
        and request.state != "approved"
        and not open_on_document
        and doc_access.document.sealed_version_id is None
        and may_ask(doc_access),
        # The certificate holds the record's pages: a download like the file itself
        # (decision 27), and not offered to a guest whose PDFs must carry their watermark: a
        # PDF record's certificate holds its pages unstamped (decision 28).
        "download_certificate": request.state == "approved"
        and doc_access.can("download")
        and download_watermark(doc_access=doc_access, reader=actor, version=request.version)
        is None,
    }
