"""Writes the WebDAV endpoint makes: a person's scratch files, and what arriving content
becomes, through the documents' own services (so every upload is the web upload: streamed,
hashed, limited, audited, followed by notifications and live updates).

What arriving bytes at a name become (:func:`content_arrives`), in order:

1. a client's temporary name (``names.is_temporary``): the person's scratch file, never a
   document;
2. the name of a document the same person's client moved aside moments ago (Office's save:
   the original renamed to a temporary name, the new file renamed into its place): a new
   version of *that* document, whose hold ends;
3. the name of a live document: a new version of it (the same bytes as its latest: nothing,
   and no error; no bytes over a document with some: nothing, as clients empty a file before
   they write it);
4. the name of a document the same person put in the trash moments ago (a save that deletes
   the original first): that document back from the trash, with a new version;
5. a new name: a new document (no bytes: an empty placeholder the person alone sees, until
   its content arrives).

Holds (:func:`document_hold_aside`) last :data:`HOLD_WINDOW`; a hold that ends with nothing
put in the document's place leaves the document as it was: a rename to a temporary name is
never carried into the workspace.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from commonroom.core.exceptions import ApplicationError, Conflict, NotFound
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.documents import services as documents
from commonroom.documents.permissions import require
from commonroom.documents.selectors import (
    DocumentAccess,
    abilities_of,
    document_trashed_by,
    folder_document_named,
    latest_version,
)
from commonroom.webdav.lock_rows import expired_delete, locks_changed
from commonroom.webdav.models import DavLock, ScratchFile
from commonroom.webdav.names import fold, is_temporary
from commonroom.webdav.selectors import document_locks, hold_for, scratch_named
from commonroom.workspaces.selectors import WorkspaceAccess
from commonroom.workspaces.services import lock_access, require_ability

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.documents.models import Document, Folder, Version

HOLD_WINDOW = timedelta(seconds=30)
INLINE_LIMIT = 64 * 1024  # scratch contents up to this size are kept in the row
MAX_SCRATCH_FILES = 500  # per person
CANNOT_WRITE = "You cannot add or change files in this workspace."


@dataclass
class Arrival:
    """What arriving bytes became: a document (with the version made, or None when nothing
    changed), or a scratch file."""

    document: Document | None = None
    version: Version | None = None
    scratch: ScratchFile | None = None

    @property
    def etag(self) -> str | None:
        if self.version is not None:
            return self.version.blob_id
        if self.document is not None:
            latest = latest_version(self.document)
            return latest.blob_id if latest is not None else None
        return None


def _may_write(actor: User, access: WorkspaceAccess) -> WorkspaceAccess:
    """Inside a transaction: the workspace locked, and the person's right to add files there
    read again under the lock."""
    access = lock_access(actor=actor, access=access)
    require_ability(access, "upload", CANNOT_WRITE)
    return access


def _folder_id(folder: Folder | None) -> Any:
    return folder.pk if folder is not None else None


def _scratch_content(uploaded: UploadedFile | None) -> tuple[bytes, str, int]:
    """(inline bytes, sha256 of stored bytes, size): small contents inline, others stored as a
    blob (before any lock, as every upload)."""
    if uploaded is None or not uploaded.size:
        return b"", "", 0
    size = int(uploaded.size)
    if size <= INLINE_LIMIT:
        uploaded.seek(0)
        return uploaded.read(), "", size
    blob = documents.blob_store(uploaded=uploaded)
    return b"", blob.sha256, size


def scratch_write(
    *,
    actor: User,
    access: WorkspaceAccess,
    folder: Folder | None,
    name: str,
    uploaded: UploadedFile | None = None,
    stands_for: Document | None = None,
) -> ScratchFile:
    """The person's scratch file ``name`` in that place, made or given new content (none: an
    empty one). Only someone who may add files to the workspace has scratch files there."""
    data, sha, size = _scratch_content(uploaded)
    content_type = (uploaded.content_type or "") if uploaded is not None else ""
    with transaction.atomic():
        access = _may_write(actor, access)
        now = timezone.now()
        scratch = scratch_named(
            user=actor, workspace_id=access.workspace.pk, folder_id=_folder_id(folder), name=name
        )
        if scratch is None:
            count = ScratchFile.objects.filter(user=actor).count()
            if count >= MAX_SCRATCH_FILES:
                raise ApplicationError(
                    "You have too many temporary files open over WebDAV. Close some "
                    "documents, or delete the temporary files your programs left.",
                    code="scratch_full",
                    status=507,
                )
            scratch = ScratchFile(
                user=actor, workspace=access.workspace, folder=folder, created_at=now
            )
        scratch.name = name
        scratch.name_key = fold(name)
        scratch.data = data
        scratch.sha256 = sha
        scratch.size = size
        scratch.content_type = content_type[:120]
        scratch.modified_at = now
        scratch.stands_for = stands_for
        scratch.held_until = now + HOLD_WINDOW if stands_for is not None else None
        scratch.save()
        return scratch


@transaction.atomic
def scratch_rename(
    *, actor: User, scratch: ScratchFile, folder: Folder | None, name: str
) -> ScratchFile:
    """Give the person's scratch file another temporary name or place (in its workspace),
    replacing a scratch file of theirs already there."""
    if scratch.user_id != actor.pk:
        raise NotFound()
    ScratchFile.objects.filter(
        user=actor,
        workspace_id=scratch.workspace_id,
        folder_id=_folder_id(folder),
        name_key=fold(name),
    ).exclude(pk=scratch.pk).delete()
    scratch.folder = folder
    scratch.name = name
    scratch.name_key = fold(name)
    scratch.modified_at = timezone.now()
    scratch.save(update_fields=["folder", "name", "name_key", "modified_at"])
    return scratch


def scratch_delete(
    *, actor: User, access: WorkspaceAccess, scratch: ScratchFile, info: RequestInfo = SYSTEM
) -> None:
    """Delete the person's scratch file. One that still holds a document aside (renamed to a
    temporary name moments ago and nothing put in its place) is that document, deleted: it
    goes to the trash, as any deletion."""
    if scratch.user_id != actor.pk:
        raise NotFound()
    if scratch.holding and scratch.stands_for is not None:
        doc = scratch.stands_for
        doc_access = DocumentAccess(doc, access, abilities_of(access, doc))
        documents.document_delete(actor=actor, doc_access=doc_access, info=info)
    ScratchFile.objects.filter(pk=scratch.pk).delete()


def hold_release(*, actor: User, scratch: ScratchFile) -> None:
    """End the person's hold: the document is seen under its own name again."""
    ScratchFile.objects.filter(pk=scratch.pk, user=actor).update(held_until=None)
    scratch.held_until = None


def document_hold_aside(
    *,
    actor: User,
    doc_access: DocumentAccess,
    folder: Folder | None,
    name: str,
) -> ScratchFile:
    """The person's client renames a document to a temporary name (the first step of
    Office's save): the document is not renamed; the person sees it under ``name`` for
    :data:`HOLD_WINDOW` (a scratch file standing for it), so that what their client puts in its
    place next becomes its new version. Refused as a rename is (a viewer; a sealed document)."""
    require(doc_access, "rename", "You cannot rename documents here.")
    if folder is not None and folder.workspace_id != doc_access.access.workspace.pk:
        raise NotFound()
    doc = doc_access.document
    latest = latest_version(doc)
    scratch = scratch_write(
        actor=actor, access=doc_access.access, folder=folder, name=name, stands_for=doc
    )
    if latest is not None:  # its content is the document's, stored already
        ScratchFile.objects.filter(pk=scratch.pk).update(
            sha256=latest.blob_id, size=latest.size, content_type=latest.content_type
        )
        scratch.sha256, scratch.size = latest.blob_id, latest.size
    return scratch


def _version(
    *, actor: User, doc_access: DocumentAccess, uploaded: UploadedFile, info: RequestInfo
) -> Version | None:
    """A new version of the document, or None when the bytes are its latest version's (or
    none over some: see the module)."""
    latest = latest_version(doc_access.document)
    if not uploaded.size and latest is not None and latest.size:
        require(doc_access, "upload_version", "You cannot upload new versions here.")
        return None
    try:
        return documents.version_upload(
            actor=actor, doc_access=doc_access, uploaded=uploaded, info=info
        )
    except Conflict as exc:
        if exc.code == "same_as_latest":
            return None
        raise


def arrival_at_document(
    *, actor: User, doc_access: DocumentAccess, uploaded: UploadedFile, info: RequestInfo = SYSTEM
) -> Arrival:
    """Bytes written over a live document: its new version (or nothing: see :func:`_version`).
    Ends the person's placeholder of that name, if any."""
    version = _version(actor=actor, doc_access=doc_access, uploaded=uploaded, info=info)
    doc = doc_access.document
    _placeholder_drop(actor=actor, access=doc_access.access, folder=doc.folder, name=doc.name)
    return Arrival(document=doc, version=version)


def content_arrives(
    *,
    actor: User,
    access: WorkspaceAccess,
    folder: Folder | None,
    name: str,
    uploaded: UploadedFile,
    info: RequestInfo = SYSTEM,
    placeholder: bool = True,
) -> Arrival:
    """What bytes written to ``name`` in that place become (see the module). ``placeholder``
    False: the caller looked for the person's scratch file at this name a moment ago, in this
    request, and found none, so there is no empty placeholder of theirs to end."""
    require_ability(access, "upload", CANNOT_WRITE)

    def placeholder_drop() -> None:
        if placeholder:
            _placeholder_drop(actor=actor, access=access, folder=folder, name=name)

    if is_temporary(name):
        return Arrival(
            scratch=scratch_write(
                actor=actor, access=access, folder=folder, name=name, uploaded=uploaded
            )
        )
    folder_id = _folder_id(folder)
    held = hold_for(user=actor, workspace_id=access.workspace.pk, folder_id=folder_id, name=name)
    if held is not None and held.stands_for is not None:
        original = held.stands_for
        version = _version(
            actor=actor,
            doc_access=DocumentAccess(original, access, abilities_of(access, original)),
            uploaded=uploaded,
            info=info,
        )
        hold_release(actor=actor, scratch=held)
        placeholder_drop()
        return Arrival(document=original, version=version)
    doc = folder_document_named(access=access, folder=folder, name=name)
    if doc is not None:
        version = _version(
            actor=actor,
            doc_access=DocumentAccess(doc, access, abilities_of(access, doc)),
            uploaded=uploaded,
            info=info,
        )
        placeholder_drop()
        return Arrival(document=doc, version=version)
    if not uploaded.size:
        return Arrival(scratch=scratch_write(actor=actor, access=access, folder=folder, name=name))
    trashed = document_trashed_by(
        access=access,
        folder=folder,
        name=name,
        actor=actor,
        since=timezone.now() - documents.REVIVE_WINDOW,
    )
    if trashed is not None:
        with contextlib.suppress(NotFound, Conflict):  # too late, or the name is taken since
            revived = documents.document_revive(
                actor=actor, access=access, document=trashed, info=info
            )
            version = _version(
                actor=actor,
                doc_access=DocumentAccess(revived, access, abilities_of(access, revived)),
                uploaded=uploaded,
                info=info,
            )
            placeholder_drop()
            return Arrival(document=revived, version=version)
    uploaded.name = name
    version = documents.document_upload(
        actor=actor, access=access, uploaded=uploaded, folder=folder, info=info
    )
    placeholder_drop()
    return Arrival(document=version.document, version=version)


def _placeholder_drop(
    *, actor: User, access: WorkspaceAccess, folder: Folder | None, name: str
) -> None:
    """The person's empty placeholder at ``name``, once its content became a document."""
    ScratchFile.objects.filter(
        user=actor,
        workspace_id=access.workspace.pk,
        folder_id=_folder_id(folder),
        name_key=fold(name),
        stands_for__isnull=True,
    ).delete()


def document_locks_end(*, access: WorkspaceAccess, document: Document) -> list[DavLock]:
    """End every live lock holding ``document`` (its own, and a folder's that reaches down to
    it): the locks ended. For documents' ``document_lock_break``, which decides who may and
    audits it, in its transaction under the workspace's lock; the holder's next request with
    the lock's token is refused (412), so their program saves a copy instead."""
    held = document_locks(access, [document]).get(document.pk, [])
    DavLock.objects.filter(token__in=[row.token for row in held]).delete()
    if held:
        locks_changed([access.workspace.pk], actor_id=None)
    return held


SCRATCH_KEPT = timedelta(days=1)


def leftovers_sweep(*, now: datetime | None = None) -> int:
    """Delete scratch files nobody wrote for :data:`SCRATCH_KEPT` (a client that crashed left
    them; a running hold is never that old) and expired locks. Safe to run twice. Returns
    how many scratch files went."""
    now = now or timezone.now()
    expired_delete(now)
    deleted, _ = ScratchFile.objects.filter(modified_at__lt=now - SCRATCH_KEPT).delete()
    return deleted
