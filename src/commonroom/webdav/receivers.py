"""What WebDAV adds to documents, through documents' hooks:

- it keeps documents' edit locks (``documents.hooks.edit_locks``): which documents its locks
  hold, shown on their pages ("being edited in Word by Tom since 10:02") and recorded with a
  version made meanwhile, and the ending of them when a manager breaks one;
- the document page's "Open in Word" (Excel, PowerPoint) button, Office's own
  ``ms-word:ofe|u|<address>`` link, and the document's WebDAV address to copy
  (:func:`document_page`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.conf import settings

from commonroom.documents import hooks
from commonroom.webdav.app import MOUNT
from commonroom.webdav.models import DavLock
from commonroom.webdav.selectors import document_locks, document_names, workspace_segment
from commonroom.webdav.services import document_locks_end

if TYPE_CHECKING:
    from commonroom.documents.models import Document
    from commonroom.workspaces.selectors import WorkspaceAccess


def edit_lock(row: DavLock) -> hooks.EditLock:
    return hooks.EditLock(holder=row.user, app=row.client, since=row.created_at)


class DavLockKeeper:
    """WebDAV's locks, as documents asks about them (``documents.hooks.LockKeeper``)."""

    def locks(
        self, access: WorkspaceAccess, documents: Sequence[hooks.PlacedDocument]
    ) -> Mapping[uuid.UUID, hooks.EditLock]:
        return {pk: edit_lock(rows[0]) for pk, rows in document_locks(access, documents).items()}

    def release(self, access: WorkspaceAccess, document: Document) -> list[hooks.EditLock]:
        return [edit_lock(row) for row in document_locks_end(access=access, document=document)]


keeper = DavLockKeeper()


# Office's programs by the files they open, with their URI scheme
# (https://learn.microsoft.com/office/client-developer/office-uri-schemes).
OFFICE: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        ("doc", "docx", "docm", "dot", "dotx", "dotm", "rtf", "odt"), ("ms-word", "Word")
    ),
    **dict.fromkeys(
        ("xls", "xlsx", "xlsm", "xlsb", "xlt", "xltx", "xltm", "ods"), ("ms-excel", "Excel")
    ),
    **dict.fromkeys(
        ("ppt", "pptx", "pptm", "pps", "ppsx", "pot", "potx", "odp"),
        ("ms-powerpoint", "PowerPoint"),
    ),
}


@dataclass(frozen=True)
class DavLinks:
    """How the reader opens a document from its page in a program of theirs."""

    url: str  # the document's WebDAV address
    folder_url: str  # its workspace's, to connect a drive or a program to
    program: str  # "Word", "Excel", "PowerPoint", or "" (no Office program opens it)
    office_href: str  # "ms-word:ofe|u|<url>" (to edit) or "…:ofv|u|…" (to read), or ""
    editable: bool  # whether what they save there is taken (they may upload versions)


def dav_address(segments: list[str]) -> str:
    """The absolute address of ``segments`` below ``/dav/``, as a client asks for it."""
    path = "/".join(quote(segment, safe="") for segment in segments)
    return f"{settings.SITE_URL}{MOUNT}/{path}"


def document_page(page: hooks.DocumentPage) -> Mapping[str, Any]:
    doc_access = page.doc_access
    document = doc_access.document
    shown = workspace_segment(user=page.user, workspace_id=doc_access.access.workspace.pk)
    # Opening it in a program reads its bytes: a download, for those who may (decision 27).
    if shown is None or not page.versions or not doc_access.can("download"):
        return {"dav": None}
    names = document_names(doc_access.access, [document])[document.pk]
    url = dav_address([shown, *names])
    editable = doc_access.can("upload_version")
    scheme, program = OFFICE.get(document.name.rpartition(".")[2].lower(), ("", ""))
    mode = "ofe" if editable else "ofv"
    return {
        "dav": DavLinks(
            url=url,
            folder_url=dav_address([shown]) + "/",
            program=program,
            office_href=f"{scheme}:{mode}|u|{url}" if scheme else "",
            editable=editable,
        )
    }


def connect() -> None:
    hooks.edit_locks.add(keeper)
    hooks.add_page_part(document_page)
