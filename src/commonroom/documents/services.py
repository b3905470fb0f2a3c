"""Every write to folders, documents, versions and blobs.

Order of an upload (the crash-safety invariant): the bytes are streamed to a temporary file and
hashed; the blob file is written, flushed and renamed into place; only then does the transaction
that creates the :class:`Blob` row and the :class:`Version` row commit. A crash before the commit
leaves at most an unreferenced blob file, which ``commonroom fsck`` reports and the collector
removes; it never leaves a version without its whole blob.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import filetype
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from commonroom.audit.models import Action
from commonroom.audit.services import audit_record
from commonroom.core.exceptions import ApplicationError, Conflict, NotFound
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.text import plain_text
from commonroom.documents.filenames import clean_filename, guess_type_from_name
from commonroom.documents.models import Blob, Document, Folder, Version, blob_storage_name
from commonroom.documents.permissions import document_abilities
from commonroom.documents.selectors import DocumentAccess, folder_path, version_get
from commonroom.documents.uploads import uploaded_sha256
from commonroom.live.services import publish
from commonroom.notifications.services import version_uploaded
from commonroom.previews.services import preview_requested, previews_discard
from commonroom.search import services as search_index
from commonroom.workspaces.selectors import WorkspaceAccess
from commonroom.workspaces.services import deny, lock_access, require_ability

log = logging.getLogger(__name__)
GC_GRACE = timedelta(hours=1)


def _require_doc(doc_access: DocumentAccess, ability: str, message: str) -> None:
    if not doc_access.can(ability):
        deny(doc_access.access, message)


def _locked(actor: Any, access: WorkspaceAccess, ability: str, message: str) -> WorkspaceAccess:
    """The actor's access re-read under the workspace lock, and the ability checked on it."""
    access = lock_access(actor=actor, access=access)
    require_ability(access, ability, message)
    return access


def document_access_locked(
    actor: Any, doc_access: DocumentAccess, ability: str, message: str
) -> DocumentAccess:
    """Inside a write's transaction: the actor's access to the document re-read under the
    workspace lock (a trashed document is gone), and ``ability`` checked on it. Every write
    about a document (versions, comments...) starts here."""
    access = lock_access(actor=actor, access=doc_access.access)
    doc = Document.objects.select_for_update().get(pk=doc_access.document.pk)
    if doc.in_trash:
        raise NotFound()
    fresh = DocumentAccess(doc, access, document_abilities(access, in_trash=False))
    _require_doc(fresh, ability, message)
    return fresh


def _clean_upload_key(upload_key: str | None) -> str | None:
    key = (upload_key or "").strip()
    if not key:
        return None
    if len(key) > 64 or not all(c.isalnum() or c in "-_" for c in key):
        raise ApplicationError("The upload key is not valid.", code="invalid_upload_key")
    return key


def _audit(
    doc_or_folder: Document | Folder,
    *,
    action: str,
    actor: Any,
    info: RequestInfo,
    data: dict[str, Any] | None = None,
) -> None:
    is_doc = isinstance(doc_or_folder, Document)
    audit_record(
        action=action,
        actor=actor,
        info=info,
        workspace_id=doc_or_folder.workspace_id,
        document_id=doc_or_folder.pk if is_doc else None,
        target_type="document" if is_doc else "folder",
        target_id=str(doc_or_folder.pk),
        target_label=doc_or_folder.name,
        data=data,
    )


# --- Blobs -----------------------------------------------------------------------------------


def detect_content_type(uploaded: UploadedFile, name: str) -> str:
    """The type the bytes show, not the type the client claimed; else from the name."""
    head = b""
    try:
        uploaded.seek(0)
        head = uploaded.read(8192)
        uploaded.seek(0)
    except (OSError, ValueError):
        pass
    kind = filetype.guess(head) if head else None
    by_name = guess_type_from_name(name)
    if kind is not None:
        # A .docx/.xlsx/.pptx is a zip: the name tells which, the bytes that it is a zip.
        if kind.mime == "application/zip" and by_name and "openxmlformats" in by_name:
            return by_name
        return str(kind.mime)
    # Whatever it is (even text/html or SVG), a version is only ever served as an attachment
    # with nosniff, never rendered in the page.
    return by_name or "application/octet-stream"


def blob_store(*, uploaded: UploadedFile) -> Blob:
    """Claim the blob row (touched now, committed), then write the bytes once under their
    SHA-256, durably. The claim comes first so the collector, which only takes blobs untouched
    for its grace period and deletes their files under the row lock, can never remove a file
    an upload is about to use."""
    sha = uploaded_sha256(uploaded)
    size = int(uploaded.size or 0)
    with transaction.atomic():
        blob, created = Blob.objects.select_for_update().get_or_create(
            sha256=sha, defaults={"size": size}
        )
        if not created:
            blob.touched_at = timezone.now()
            blob.save(update_fields=["touched_at"])
    try:
        uploaded.seek(0)
        default_storage.save(blob_storage_name(sha), uploaded)
    except BaseException:
        if created:  # withdraw the claim, unless another upload has claimed it since
            Blob.objects.filter(pk=sha, touched_at=blob.touched_at).exclude(
                pk__in=Version.objects.values("blob_id")
            ).delete()
        raise
    return blob


# --- Versions --------------------------------------------------------------------------------


def _live_document_named(
    access: WorkspaceAccess, folder: Folder | None, name: str, exclude: Any = None
) -> Document | None:
    qs = Document.objects.filter(
        workspace_id=access.workspace.pk, folder=folder, deleted_at__isnull=True, name__iexact=name
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs.first()


def _check_based_on(based_on_number: int | None, latest: int) -> None:
    if based_on_number is not None and not (1 <= based_on_number <= latest):
        raise ApplicationError(
            f"Version {based_on_number} does not exist.", code="invalid_based_on"
        )


def _add_version(
    *,
    actor: Any,
    document: Document,
    blob: Blob,
    filename: str,
    content_type: str,
    note: str,
    based_on_number: int | None,
    upload_key: str | None,
    restored_from: int | None = None,
    refuse_same_as_latest: bool = False,
) -> tuple[Version, bool]:
    """Append a version under a lock on the document. Returns (version, created).

    With ``refuse_same_as_latest``, bytes identical to the latest version are refused
    (:class:`Conflict`, ``same_as_latest``): decided here, under the lock that numbers versions,
    so two identical uploads at once make one version and one refusal. A resend (the same
    ``upload_key``) is answered first, with the version it made."""
    doc = Document.objects.select_for_update().get(pk=document.pk)
    if upload_key:
        existing = doc.versions.filter(upload_key=upload_key).first()
        if existing is not None:
            return existing, False
    latest = doc.current_version_number
    if refuse_same_as_latest and latest:
        latest_blob = doc.versions.filter(number=latest).values_list("blob_id", flat=True).first()
        if latest_blob == blob.pk:
            raise Conflict(
                f"This file is the same as version {latest}, the latest: no new version was made.",
                code="same_as_latest",
            )
    number = latest + 1
    _check_based_on(based_on_number, latest)
    base = latest if based_on_number is None else based_on_number
    version = Version.objects.create(
        document=doc,
        number=number,
        blob=blob,
        filename=filename,
        content_type=content_type,
        size=blob.size,
        author=actor,
        note=plain_text(note)[:500],
        based_on_number=base or None,
        based_on_latest=(base == latest),
        restored_from_number=restored_from,
        upload_key=upload_key,
    )
    doc.current_version_number = number
    doc.updated_at = version.created_at
    doc.save(update_fields=["current_version_number", "updated_at"])
    document.current_version_number = number
    document.updated_at = doc.updated_at
    search_index.index_document(doc)  # the name and the latest version's words
    version_uploaded(version=version)  # followers are notified with the change, or not at all
    preview_requested(version=version)  # made once per blob, in the background, after commit
    publish(
        workspace_id=doc.workspace_id,
        kind="version.created",
        data={
            "list": f"versions:{doc.pk}",
            "target": f"v{number}",
            "fragment": "",
            "document": doc.pk,
            "number": number,
            "author_id": actor.pk,
            "notice": f"{actor.display_name} uploaded version {number} of {doc.name}.",
        },
    )
    return version, True


def document_upload(
    *,
    actor: Any,
    access: WorkspaceAccess,
    uploaded: UploadedFile,
    folder: Folder | None = None,
    note: str = "",
    upload_key: str | None = None,
    info: RequestInfo = SYSTEM,
) -> Version:
    """Upload a file into a folder. A live document of the same name gets it as a new version
    (based on its latest), unless its bytes are the latest version's (``same_as_latest``, 409,
    as for :func:`version_upload`); otherwise a new document is created with version 1."""
    require_ability(access, "upload", "You cannot upload to this workspace.")
    name = clean_filename(uploaded.name or "")
    key = _clean_upload_key(upload_key)
    if folder is not None and (folder.workspace_id != access.workspace.pk or folder.in_trash):
        raise NotFound()
    blob = blob_store(uploaded=uploaded)
    content_type = detect_content_type(uploaded, name)
    with transaction.atomic():
        # Names are checked and documents created under the workspace lock: two uploads of a
        # new name at once make one document with two versions, never two documents.
        access = _locked(actor, access, "upload", "You cannot upload to this workspace.")
        if folder is not None:
            folder = Folder.objects.filter(pk=folder.pk, deleted_at__isnull=True).first()
            if folder is None:
                raise NotFound()
        if key:
            done = (
                Version.objects.filter(document__workspace_id=access.workspace.pk, upload_key=key)
                .select_related("document")
                .first()
            )
            if done is not None:
                return done
        doc = _live_document_named(access, folder, name)
        created_doc = doc is None
        if doc is None:
            doc = Document.objects.create(
                workspace=access.workspace, folder=folder, name=name, created_by=actor
            )
        version, _ = _add_version(
            actor=actor,
            document=doc,
            blob=blob,
            filename=name,
            content_type=content_type,
            note=note,
            based_on_number=None,
            upload_key=key,
            refuse_same_as_latest=True,  # a new document has no latest version
        )
        _audit(
            doc,
            action=Action.DOCUMENT_UPLOADED if created_doc else Action.VERSION_UPLOADED,
            actor=actor,
            info=info,
            data=_version_data(version, original_name=uploaded.name or ""),
        )
    return version


@dataclass
class UploadBatch:
    """What :func:`documents_upload` did: the versions made, and for each file that was the same
    as its document's latest version, a sentence saying so (nothing was made for it)."""

    versions: list[Version] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def documents_upload(
    *,
    actor: Any,
    access: WorkspaceAccess,
    files: list[UploadedFile],
    folder: Folder | None = None,
    note: str = "",
    upload_keys: list[str] | None = None,
    info: RequestInfo = SYSTEM,
) -> UploadBatch:
    """Several files at once, as :func:`document_upload` each (the i-th key goes with the i-th
    file). Every name is checked before any file is stored, so a bad name refuses the lot. A file
    whose bytes are its document's latest version is left out and said so; the others are
    uploaded (dropping a folder's files again adds versions only for those that changed)."""
    if not files:
        raise ApplicationError("Choose at least one file to upload.", code="no_file")
    # Before the names are judged: someone who may not upload is told so, not that a name is
    # bad. document_upload asks again before storing each file, and under the workspace lock.
    require_ability(access, "upload", "You cannot upload to this workspace.")
    names = [clean_filename(f.name or "") for f in files]
    keys = upload_keys or []
    batch = UploadBatch()
    for i, f in enumerate(files):
        try:
            batch.versions.append(
                document_upload(
                    actor=actor,
                    access=access,
                    uploaded=f,
                    folder=folder,
                    note=note,
                    upload_key=keys[i] if i < len(keys) else None,
                    info=info,
                )
            )
        except Conflict as exc:
            if exc.code != "same_as_latest":
                raise
            batch.unchanged.append(f"{names[i]}: {exc.message}")
    return batch


def _version_data(version: Version, *, original_name: str = "") -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": version.number,
        "sha256": version.blob_id,
        "size": version.size,
    }
    if original_name and original_name != version.filename:
        data["original_name"] = original_name[:300]
    if not version.based_on_latest:
        data["based_on"] = version.based_on_number
    return data


def version_upload(
    *,
    actor: Any,
    doc_access: DocumentAccess,
    uploaded: UploadedFile,
    based_on_number: int | None = None,
    note: str = "",
    upload_key: str | None = None,
    info: RequestInfo = SYSTEM,
) -> Version:
    """Add a new version. ``based_on_number`` names the version the author amended; when it is
    no longer the latest the upload is kept all the same and flagged, so nothing is lost.
    Bytes identical to the latest version are refused (``same_as_latest``, 409): no version,
    no notification. Identical to an older version is allowed (a deliberate return to it)."""
    _require_doc(doc_access, "upload_version", "You cannot upload new versions here.")
    name = clean_filename(uploaded.name or doc_access.document.name)
    key = _clean_upload_key(upload_key)
    # Refuse a base that does not exist before storing anything (checked again under the lock).
    latest = Document.objects.filter(pk=doc_access.document.pk).values_list(
        "current_version_number", flat=True
    )
    _check_based_on(based_on_number, latest.first() or 0)
    blob = blob_store(uploaded=uploaded)
    content_type = detect_content_type(uploaded, name)
    with transaction.atomic():
        doc_access = document_access_locked(
            actor, doc_access, "upload_version", "You cannot upload new versions here."
        )
        version, created = _add_version(
            actor=actor,
            document=doc_access.document,
            blob=blob,
            filename=name,
            content_type=content_type,
            note=note,
            based_on_number=based_on_number,
            upload_key=key,
            refuse_same_as_latest=True,
        )
        if created:
            _audit(
                doc_access.document,
                action=Action.VERSION_UPLOADED,
                actor=actor,
                info=info,
                data=_version_data(version, original_name=uploaded.name or ""),
            )
    return version


@transaction.atomic
def version_restore(
    *, actor: Any, doc_access: DocumentAccess, number: int, info: RequestInfo = SYSTEM
) -> Version:
    """Make an old version current again by adding it as a new version: history is kept."""
    doc_access = document_access_locked(
        actor, doc_access, "restore_version", "You cannot restore versions here."
    )
    old = doc_access.document.versions.select_related("blob").filter(number=number).first()
    if old is None:
        raise NotFound()
    version, _ = _add_version(
        actor=actor,
        document=doc_access.document,
        blob=old.blob,
        filename=old.filename,
        content_type=old.content_type,
        note=f"Restored version {old.number}",
        based_on_number=None,
        upload_key=None,
        restored_from=old.number,
    )
    _audit(
        doc_access.document,
        action=Action.VERSION_RESTORED,
        actor=actor,
        info=info,
        data={"version": version.number, "restored_from": old.number},
    )
    return version


def document_record_view(*, actor: Any, doc_access: DocumentAccess, info: RequestInfo) -> None:
    _audit(doc_access.document, action=Action.DOCUMENT_VIEWED, actor=actor, info=info)


def version_for_download(
    *, actor: Any, doc_access: DocumentAccess, number: Any, info: RequestInfo
) -> Version:
    """The version a person downloads, after checking they may, with the download audited.
    Pages and the API both serve files through this."""
    if not doc_access.can("download"):
        deny(doc_access.access, "You cannot download this document.")
    version = version_get(doc_access=doc_access, number=number)
    _audit(
        doc_access.document,
        action=Action.VERSION_DOWNLOADED,
        actor=actor,
        info=info,
        data={"version": version.number, "sha256": version.blob_id},
    )
    return version


# --- Names and places ------------------------------------------------------------------------


@transaction.atomic
def document_rename(
    *, actor: Any, doc_access: DocumentAccess, name: str, info: RequestInfo = SYSTEM
) -> Document:
    doc_access = document_access_locked(
        actor, doc_access, "rename", "You cannot rename documents here."
    )
    doc = doc_access.document  # read again, locked, by document_access_locked
    new = clean_filename(name)
    if new == doc.name:
        return doc
    if _live_document_named(doc_access.access, doc.folder, new, exclude=doc.pk):
        raise Conflict(f"There is already a document called {new} here.", code="name_taken")
    old = doc.name
    doc.name = new
    doc.save(update_fields=["name"])
    search_index.index_document(doc)
    _audit(doc, action=Action.DOCUMENT_RENAMED, actor=actor, info=info, data={"from": old})
    return doc


@transaction.atomic
def document_move(
    *, actor: Any, doc_access: DocumentAccess, folder: Folder | None, info: RequestInfo = SYSTEM
) -> Document:
    doc_access = document_access_locked(
        actor, doc_access, "move", "You cannot move documents here."
    )
    access = doc_access.access
    if folder is not None and (folder.workspace_id != access.workspace.pk or folder.in_trash):
        raise NotFound()
    doc = Document.objects.select_for_update().get(pk=doc_access.document.pk)
    if doc.folder_id == (folder.pk if folder else None):
        return doc
    if _live_document_named(access, folder, doc.name, exclude=doc.pk):
        raise Conflict(
            f"There is already a document called {doc.name} in that folder.", code="name_taken"
        )
    source = doc.folder.name if doc.folder else "(top level)"
    doc.folder = folder
    doc.save(update_fields=["folder"])
    _audit(
        doc,
        action=Action.DOCUMENT_MOVED,
        actor=actor,
        info=info,
        data={"from": source, "to": folder.name if folder else "(top level)"},
    )
    return doc


def _live_folder(access: WorkspaceAccess, pk: Any) -> Folder:
    found = Folder.objects.filter(
        pk=pk, workspace_id=access.workspace.pk, deleted_at__isnull=True
    ).first()
    if found is None:
        raise NotFound()
    return found


def _clean_folder_name(name: str) -> str:
    try:
        return clean_filename(name)
    except ApplicationError:
        raise ApplicationError("Enter a folder name.", code="invalid_folder_name") from None


def _live_folder_named(
    access: WorkspaceAccess, parent: Folder | None, name: str, exclude: Any = None
) -> bool:
    qs = Folder.objects.filter(
        workspace_id=access.workspace.pk, parent=parent, deleted_at__isnull=True, name__iexact=name
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs.exists()


@transaction.atomic
def folder_create(
    *,
    actor: Any,
    access: WorkspaceAccess,
    name: str,
    parent: Folder | None = None,
    info: RequestInfo = SYSTEM,
) -> Folder:
    access = _locked(actor, access, "edit_documents", "You cannot create folders here.")
    if parent is not None and (parent.workspace_id != access.workspace.pk or parent.in_trash):
        raise NotFound()
    name = _clean_folder_name(name)
    if _live_folder_named(access, parent, name):
        raise Conflict(f"There is already a folder called {name} here.", code="name_taken")
    folder = Folder.objects.create(
        workspace=access.workspace, parent=parent, name=name, created_by=actor
    )
    _audit(folder, action=Action.FOLDER_CREATED, actor=actor, info=info)
    return folder


@transaction.atomic
def folder_rename(
    *, actor: Any, access: WorkspaceAccess, folder: Folder, name: str, info: RequestInfo = SYSTEM
) -> Folder:
    access = _locked(actor, access, "edit_documents", "You cannot rename folders here.")
    name = _clean_folder_name(name)
    if name == folder.name:
        return folder
    if _live_folder_named(access, folder.parent, name, exclude=folder.pk):
        raise Conflict(f"There is already a folder called {name} here.", code="name_taken")
    old = folder.name
    folder.name = name
    folder.save(update_fields=["name"])
    _audit(folder, action=Action.FOLDER_RENAMED, actor=actor, info=info, data={"from": old})
    return folder


@transaction.atomic
def folder_move(
    *,
    actor: Any,
    access: WorkspaceAccess,
    folder: Folder,
    parent: Folder | None,
    info: RequestInfo = SYSTEM,
) -> Folder:
    access = _locked(actor, access, "edit_documents", "You cannot move folders here.")
    # Read both again under the lock: the cycle check must see the tree as it is now.
    folder = _live_folder(access, folder.pk)
    if parent is not None:
        parent = _live_folder(access, parent.pk)
        if any(f.pk == folder.pk for f in folder_path(parent)):
            raise ApplicationError("A folder cannot be moved inside itself.", code="folder_cycle")
    if folder.parent_id == (parent.pk if parent else None):
        return folder
    if _live_folder_named(access, parent, folder.name, exclude=folder.pk):
        raise Conflict(f"There is already a folder called {folder.name} there.", code="name_taken")
    folder.parent = parent
    folder.save(update_fields=["parent"])
    _audit(
        folder,
        action=Action.FOLDER_MOVED,
        actor=actor,
        info=info,
        data={"to": parent.name if parent else "(top level)"},
    )
    return folder


# --- Trash -----------------------------------------------------------------------------------


def _descendant_folder_ids(folder: Folder, *, live_only: bool = True) -> list[Any]:
    """Every folder below ``folder`` (only those not in the trash, unless ``live_only`` is
    off), breadth first. A visited set guards against a cycle ever reaching the tree."""
    ids: list[Any] = []
    seen = {folder.pk}
    frontier = [folder.pk]
    while frontier:
        qs = Folder.objects.filter(parent_id__in=frontier)
        if live_only:
            qs = qs.filter(deleted_at__isnull=True)
        frontier = [pk for pk in qs.values_list("pk", flat=True) if pk not in seen]
        seen.update(frontier)
        ids.extend(frontier)
    return ids


@transaction.atomic
def document_delete(*, actor: Any, doc_access: DocumentAccess, info: RequestInfo = SYSTEM) -> None:
    doc_access = document_access_locked(
        actor, doc_access, "delete", "You cannot delete documents here."
    )
    # Read again, locked, by document_access_locked (which refuses a document already in the
    # trash: a second delete is not found).
    doc = doc_access.document
    doc.deleted_at = timezone.now()
    doc.deleted_by = actor
    doc.trashed_with = None
    doc.save(update_fields=["deleted_at", "deleted_by", "trashed_with"])
    search_index.index_document(doc)  # out of search, with its comments
    _audit(doc, action=Action.DOCUMENT_DELETED, actor=actor, info=info)


@transaction.atomic
def folder_delete(
    *, actor: Any, access: WorkspaceAccess, folder: Folder, info: RequestInfo = SYSTEM
) -> None:
    """Move a folder and everything in it to the trash, as one item that restores as one."""
    access = _locked(actor, access, "delete_documents", "You cannot delete folders here.")
    now = timezone.now()
    inner = _descendant_folder_ids(folder)
    Folder.objects.filter(pk__in=inner).update(
        deleted_at=now, deleted_by=actor, trashed_with=folder.pk
    )
    Document.objects.filter(Q(folder_id__in=[folder.pk, *inner]), deleted_at__isnull=True).update(
        deleted_at=now, deleted_by=actor, trashed_with=folder.pk
    )
    folder.deleted_at = now
    folder.deleted_by = actor
    folder.trashed_with = None
    folder.save(update_fields=["deleted_at", "deleted_by", "trashed_with"])
    # The documents it took leave search with it (those trashed before had already left).
    search_index.index_documents(Document.objects.filter(trashed_with=folder.pk))
    _audit(folder, action=Action.FOLDER_DELETED, actor=actor, info=info)


def _free_name(taken: Any, name: str) -> str:
    if not taken(name):
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    for i in range(2, 1000):
        candidate = f"{stem} (restored {i}){dot}{ext}" if i > 2 else f"{stem} (restored){dot}{ext}"
        if not taken(candidate):
            return candidate
    raise Conflict("Too many items with that name.")  # pragma: no cover


@transaction.atomic
def document_restore(
    *, actor: Any, access: WorkspaceAccess, document: Document, info: RequestInfo = SYSTEM
) -> Document:
    access = _locked(actor, access, "manage_trash", "Only managers can restore from the trash.")
    doc = Document.objects.select_for_update().get(pk=document.pk, workspace_id=access.workspace.pk)
    if not doc.in_trash:
        return doc
    if doc.folder is not None and doc.folder.in_trash:
        doc.folder = None  # its folder is still in the trash: restore to the top level
    doc.name = _free_name(
        lambda n: _live_document_named(access, doc.folder, n, exclude=doc.pk) is not None, doc.name
    )
    doc.deleted_at = None
    doc.deleted_by = None
    doc.trashed_with = None
    doc.save(update_fields=["folder", "name", "deleted_at", "deleted_by", "trashed_with"])
    search_index.index_document(doc)  # back in search, with its comments
    _audit(doc, action=Action.DOCUMENT_RESTORED, actor=actor, info=info)
    return doc


@transaction.atomic
def folder_restore(
    *, actor: Any, access: WorkspaceAccess, folder: Folder, info: RequestInfo = SYSTEM
) -> Folder:
    access = _locked(actor, access, "manage_trash", "Only managers can restore from the trash.")
    if not folder.in_trash:
        return folder
    if folder.parent is not None and folder.parent.in_trash:
        folder.parent = None
    folder.name = _free_name(
        lambda n: _live_folder_named(access, folder.parent, n, exclude=folder.pk), folder.name
    )
    Folder.objects.filter(trashed_with=folder.pk).update(
        deleted_at=None, deleted_by=None, trashed_with=None
    )
    back = list(Document.objects.filter(trashed_with=folder.pk))
    Document.objects.filter(trashed_with=folder.pk).update(
        deleted_at=None, deleted_by=None, trashed_with=None
    )
    folder.deleted_at = None
    folder.deleted_by = None
    folder.save(update_fields=["parent", "name", "deleted_at", "deleted_by"])
    search_index.index_documents(back)  # back in search; those trashed on their own stay out
    _audit(folder, action=Action.FOLDER_RESTORED, actor=actor, info=info)
    return folder


@transaction.atomic
def document_purge(
    *, actor: Any, access: WorkspaceAccess, document: Document, info: RequestInfo = SYSTEM
) -> None:
    """Remove a trashed document and its versions for good. Its blobs are left to the
    collector, which removes those no other version uses."""
    access = _locked(actor, access, "manage_trash", "Only managers can purge the trash.")
    doc = Document.objects.select_for_update().get(pk=document.pk, workspace_id=access.workspace.pk)
    if not doc.in_trash:
        raise ApplicationError(
            "Move the document to the trash before purging it.", code="not_in_trash"
        )
    versions = list(doc.versions.values_list("number", "blob_id"))
    _audit(
        doc,
        action=Action.DOCUMENT_PURGED,
        actor=actor,
        info=info,
        data={"versions": len(versions), "sha256": sorted({b for _, b in versions})},
    )
    doc.delete()
    transaction.on_commit(_enqueue_garbage_collection)


def _enqueue_garbage_collection() -> None:
    from commonroom.documents.tasks import collect_garbage

    collect_garbage.enqueue()


@transaction.atomic
def folder_purge(
    *, actor: Any, access: WorkspaceAccess, folder: Folder, info: RequestInfo = SYSTEM
) -> None:
    access = _locked(actor, access, "manage_trash", "Only managers can purge the trash.")
    if not folder.in_trash:
        raise ApplicationError(
            "Move the folder to the trash before purging it.", code="not_in_trash"
        )
    # Everything beneath the folder goes with it, including what was trashed on its own before
    # (deleting the folder row would cascade to it): each document is purged, and audited, by name.
    beneath = [folder.pk, *_descendant_folder_ids(folder, live_only=False)]
    docs = list(Document.objects.filter(Q(trashed_with=folder.pk) | Q(folder_id__in=beneath)))
    if any(not doc.in_trash for doc in docs):
        raise Conflict(
            "Something in this folder is no longer in the trash. Move it out first.",
            code="not_in_trash",
        )
    for doc in docs:
        document_purge(actor=actor, access=access, document=doc, info=info)
    _audit(
        folder, action=Action.FOLDER_PURGED, actor=actor, info=info, data={"documents": len(docs)}
    )
    Folder.objects.filter(pk__in=beneath[1:]).delete()
    folder.delete()


# --- Garbage collection ----------------------------------------------------------------------


def blobs_collect_garbage(*, grace: timedelta = GC_GRACE, info: RequestInfo = SYSTEM) -> int:
    """Delete blobs no version refers to and nobody touched for ``grace``: their files, then
    their rows, all while holding the rows' locks (an upload claiming one waits, then finds it
    gone and stores it again). A failure before the commit leaves rows without files, which
    are unreferenced anyway and go on the next run."""
    cutoff = timezone.now() - grace
    with transaction.atomic():
        doomed = list(
            Blob.objects.select_for_update()
            .filter(touched_at__lt=cutoff)
            .exclude(pk__in=Version.objects.values("blob_id"))
            .values_list("sha256", flat=True)
        )
        if not doomed:
            return 0
        previews_discard(shas=doomed)
        for sha in doomed:
            default_storage.delete(blob_storage_name(sha))
        Blob.objects.filter(pk__in=doomed).delete()
        audit_record(
            action=Action.BLOBS_COLLECTED,
            info=info,
            target_type="blob",
            data={"count": len(doomed), "sha256": doomed[:100]},
        )
    return len(doomed)
