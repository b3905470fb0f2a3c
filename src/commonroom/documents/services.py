"""Every write to folders, documents, versions and blobs.

Order of an upload (the crash-safety invariant): the bytes are streamed to a temporary file and
hashed; the blob row is claimed; the blob file is written, flushed and linked into place; only
then does the transaction that creates the :class:`Version` row commit. A crash before the commit
leaves at most an unreferenced blob (row, with or without its file), which ``commonroom fsck``
reports and the collector removes; it never leaves a version without its whole blob. The files a
crash can leave beside (temporaries, partial copies) go with :func:`storage_sweep`.

Final records: :func:`version_seal` makes a document's latest version its final record and
seals the document (a caller that decided a rule was met: the approvals); while sealed it takes
no new version, name, place or trip to the trash (``permissions.SEALED_REFUSES``, and
:func:`_add_version` under the document's lock), until a manager reopens it
(:func:`document_reopen`). A record under its workspace's retention cannot be purged: the
refused attempt is audited in a transaction of its own (:func:`_purge_refused`); deleting it
any other way is refused by ``receivers``.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import filetype
from django.core import signing
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from commonroom.audit.actions import Action
from commonroom.audit.services import audit_record, audit_record_reading, audit_rows_last
from commonroom.core.backup_lock import collector_turn
from commonroom.core.exceptions import (
    UPLOAD_STORE_UNAVAILABLE_MESSAGE,
    ApplicationError,
    Conflict,
    NotFound,
    PermissionDenied,
    StorageUnavailable,
)
from commonroom.core.metrics import upload_counted
from commonroom.core.prepared import insert, update
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.text import plain_text, stated_text
from commonroom.documents import hooks
from commonroom.documents.exceptions import Sealed, UnderRetention
from commonroom.documents.filenames import clean_filename, guess_type_from_name
from commonroom.documents.integrity import (
    blob_file_entries,
    blob_name_sha256,
    upload_temporaries,
)
from commonroom.documents.models import (
    Blob,
    Document,
    Folder,
    ReadBy,
    ReadReminder,
    Version,
    VersionRead,
    blob_storage_name,
)
from commonroom.documents.pdf_stamp import stamped_pdf
from commonroom.documents.permissions import DocumentAbility, document_abilities, require
from commonroom.documents.selectors import (
    PDF_TYPE,
    READING_SALT,
    READING_SECONDS,
    READING_TOKEN_HOURS,
    DocumentAccess,
    document_access,
    document_locked,
    download_watermark,
    folder_path,
    live_document_named,
    same_bytes_numbers,
    version_get,
    version_readers,
)
from commonroom.documents.stamping import (
    DownloadFile,
    Stamp,
    forget_blobs,
    stamp_read,
    unchanged_download,
)
from commonroom.documents.storage import remove_unless_in_use
from commonroom.documents.uploads import uploaded_sha256
from commonroom.workspaces.permissions import (
    WorkspaceAbility,
    download_refusal,
    download_settings,
)
from commonroom.workspaces.selectors import WorkspaceAccess
from commonroom.workspaces.services import deny, lock_access, require_ability, workspace_lock

if TYPE_CHECKING:
    from commonroom.accounts.models import User

log = logging.getLogger(__name__)
GC_GRACE = timedelta(hours=1)


def _require_doc(doc_access: DocumentAccess, ability: DocumentAbility, message: str) -> None:
    """Refuse unless the person may; a sealed document says so (``permissions.require``)."""
    require(doc_access, ability, message)


def _locked(
    actor: User, access: WorkspaceAccess, ability: WorkspaceAbility, message: str
) -> WorkspaceAccess:
    """The actor's access re-read under the workspace lock, and the ability checked on it."""
    access = lock_access(actor=actor, access=access)
    require_ability(access, ability, message)
    return access


def document_access_locked(
    actor: User, doc_access: DocumentAccess, ability: DocumentAbility, message: str
) -> DocumentAccess:
    """Inside a write's transaction: the actor's access to the document re-read under the
    workspace lock (a trashed document is gone), and ``ability`` checked on it. Every write
    about a document (versions, comments...) starts here."""
    access = lock_access(actor=actor, access=doc_access.access)
    doc = document_locked(doc_access.document.pk)
    if doc is None or doc.in_trash:
        raise NotFound()
    sealed = doc.sealed_version_id is not None
    fresh = DocumentAccess(doc, access, document_abilities(access, in_trash=False, sealed=sealed))
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
    actor: User,
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
    blob, created = _blob_claim(sha, size)
    try:
        uploaded.seek(0)
        try:
            default_storage.save(blob_storage_name(sha), uploaded)
        except StorageUnavailable as exc:  # the object store is away: say nothing was saved
            raise StorageUnavailable(UPLOAD_STORE_UNAVAILABLE_MESSAGE) from exc
    except BaseException:
        if created:  # withdraw the claim, unless another upload has claimed it since
            Blob.objects.filter(pk=sha, touched_at=blob.touched_at).exclude(
                pk__in=Version.objects.values("blob_id")
            ).delete()
        raise
    # Counted for the metrics (core.metrics) once the bytes are stored and, inside a
    # transaction, once it commits: an upload refused after this (the same as the latest
    # version, say) still counts, its bytes having arrived and been kept.
    transaction.on_commit(lambda: upload_counted(size))
    return blob


def _blob_claim(sha: str, size: int) -> tuple[Blob, bool]:
    """The blob's row made, or its ``touched_at`` moved to now, in one statement (an upsert,
    which takes the row's lock as an update does, so it waits for a collector holding it and
    then finds the row, or none and makes it). Returns (blob, created): created when the row
    it returns is the one this statement made, as the database tells (only a row just made has
    ``touched_at`` equal to ``created_at``: an update moves ``touched_at`` alone)."""
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    table = connection.ops.quote_name(Blob._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (sha256, size, created_at, touched_at) "  # noqa: S608 - our table
            "VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (sha256) DO UPDATE SET touched_at = excluded.touched_at "
            "RETURNING size, created_at, created_at = touched_at",
            [sha, size, at, at],
        )
        row = cursor.fetchone()
    size_stored, created_at, created = row
    # SQLite answers with the time it stores (in UTC, without its zone), as text or as Python's
    # sqlite3 reads that text; PostgreSQL with the time itself.
    if isinstance(created_at, str):
        created_at = datetime.fromisoformat(created_at)
    if timezone.is_naive(created_at):
        created_at = created_at.replace(tzinfo=UTC)
    blob = Blob(sha256=sha, size=size_stored, created_at=created_at, touched_at=now)
    blob._state.adding = False  # a row that exists, as a queryset would hand it
    return blob, bool(created)


# --- Versions --------------------------------------------------------------------------------


def _live_document_named(
    access: WorkspaceAccess, folder: Folder | None, name: str, exclude: Any = None
) -> Document | None:
    if exclude is None:  # an upload's question, asked with SQL built once (selectors)
        return live_document_named(
            workspace_id=access.workspace.pk,
            folder_id=folder.pk if folder is not None else None,
            name=name,
        )
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


def _stamped_base(doc: Document, stamp: Stamp | None, latest: int) -> int | None:
    """The version the uploaded file says it was downloaded from (its stamp, ``stamping``), when
    the stamp names this document and one of its versions with that version's bytes. A stamp
    that does not is ignored and logged: it never points anywhere else."""
    if stamp is None:
        return None
    if stamp.document_id != doc.pk:
        log.info(
            "documents: an upload to %s carries the stamp of document %s; ignored",
            doc.pk,
            stamp.document_id,
        )
        return None
    if not 1 <= stamp.number <= latest:
        log.warning(
            "documents: an upload to %s is stamped with version %s, which it does not have "
            "(latest %s); ignored",
            doc.pk,
            stamp.number,
            latest,
        )
        return None
    sha = doc.versions.filter(number=stamp.number).values_list("blob_id", flat=True).first()
    if sha != stamp.sha256:
        log.warning(
            "documents: an upload to %s is stamped with version %s but other bytes; ignored",
            doc.pk,
            stamp.number,
        )
        return None
    return stamp.number


def _add_version(
    *,
    actor: User,
    access: WorkspaceAccess,
    document: Document,
    blob: Blob,
    filename: str,
    content_type: str,
    note: str,
    based_on_number: int | None,
    upload_key: str | None,
    restored_from: int | None = None,
    refuse_same_as_latest: bool = False,
    stamp: Stamp | None = None,
    new_document: bool = False,
    row_locked: bool = False,
) -> tuple[Version, bool]:
    """Append a version under a lock on the document. Returns (version, created).

    With ``refuse_same_as_latest``, bytes identical to the latest version are refused
    (:class:`Conflict`, ``same_as_latest``): decided here, under the lock that numbers versions,
    so two identical uploads at once make one version and one refusal. A resend (the same
    ``upload_key``) is answered first, with the version it made.

    The base is the version the file's own ``stamp`` names, when it names one of this
    document's (it wins over ``based_on_number``, which comes from the page the upload was
    made from); else ``based_on_number``; else the latest. Bytes of an earlier version are
    recorded as identical to the first version that had them.

    A document someone else has open for editing in another program (``hooks.edit_locks``: a
    WebDAV lock) still takes the version, which records whose lock it was made under: their
    next save comes in as a newer version, so neither is lost.

    ``new_document``: ``document`` was created by this transaction, under the workspace's
    lock, a moment ago: its row is this one and nobody else can see it yet, so it is not read
    again, and it has no versions to compare with. ``row_locked``: ``document`` was read under
    its row lock by this transaction (:func:`document_access_locked`), so it is the row as it
    is and is not read again."""
    if new_document or row_locked:
        doc = document
    else:
        locked = document_locked(document.pk)
        if locked is None:
            raise NotFound()
        doc = locked
    if upload_key and not new_document:
        existing = doc.versions.filter(upload_key=upload_key).first()
        if existing is not None:
            return existing, False
    if doc.sealed_version_id is not None:  # every new version comes here, under this lock
        raise Sealed.of(doc)
    # A new document was made already numbered for this, its first version (document_upload).
    latest = 0 if new_document else doc.current_version_number
    # The first and the last of this document's versions with these bytes, in one query: the
    # last is the latest when the file is the latest's; the first is the one it is identical to.
    same = (
        same_bytes_numbers(document_id=doc.pk, blob_id=blob.pk)
        if latest
        else {"first": None, "last": None}  # no versions yet
    )
    if refuse_same_as_latest and latest and same["last"] == latest:
        raise Conflict(
            f"This file is the same as version {latest}, the latest: no new version was made.",
            code="same_as_latest",
        )
    number = latest + 1
    _check_based_on(based_on_number, latest)
    from_file = _stamped_base(doc, stamp, latest)
    if from_file is not None:
        base = from_file
    else:
        base = latest if based_on_number is None else based_on_number
    identical_to = same["first"]
    held = hooks.edit_locks.of(access, [doc]).get(doc.pk) if number > 1 else None
    if held is not None and held.holder.pk == actor.pk:
        held = None  # their own program's lock: their own save, or their own upload
    version = insert(
        Version(
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
            based_on_from_file=from_file is not None,
            identical_to_number=identical_to,
            restored_from_number=restored_from,
            upload_key=upload_key,
            while_locked_by=held.holder if held is not None else None,
            while_locked_in=held.app[:60] if held is not None else "",
            while_locked_since=held.since if held is not None else None,
            # A new document's first version is made at the moment the document is.
            **({"created_at": doc.updated_at} if new_document else {}),
        )
    )
    if not new_document:  # a new one was written with its number and time (document_upload)
        doc.current_version_number = number
        doc.updated_at = version.created_at
        update(doc, ["current_version_number", "updated_at"])
    document.current_version_number = number
    document.updated_at = doc.updated_at
    # Search, notifications, previews, live, suggestions and approvals follow it, in this
    # transaction; the audit rows they write (a suggestion outdated, a request ended) are held
    # until every follower has run, so they stay the last writes before the version's own.
    with audit_rows_last():
        hooks.changed(
            hooks.VersionAdded(
                actor=actor, document=doc, version=version, document_created=number == 1
            )
        )
    return version, True


def document_upload(
    *,
    actor: User,
    access: WorkspaceAccess,
    uploaded: UploadedFile,
    folder: Folder | None = None,
    note: str = "",
    upload_key: str | None = None,
    info: RequestInfo = SYSTEM,
) -> Version:
    """Upload a file into a folder. A live document of the same name gets it as a new version
    (based on its latest), unless its bytes are the latest version's (``same_as_latest``, 409,
    as for :func:`version_upload`) or it is sealed (``sealed``, 409); otherwise a new document
    is created with version 1."""
    require_ability(access, "upload", "You cannot upload to this workspace.")
    name = clean_filename(uploaded.name or "")
    key = _clean_upload_key(upload_key)
    if folder is not None and (folder.workspace_id != access.workspace.pk or folder.in_trash):
        raise NotFound()
    blob = blob_store(uploaded=uploaded)
    content_type = detect_content_type(uploaded, name)
    # Before any lock (a child runs): what the file says it is, and whether it is a download
    # sent back unchanged (then it is that version's own bytes).
    stamp = stamp_read(blob=blob, content_type=content_type, uploaded=uploaded)
    blob = unchanged_download(stamp=stamp, blob=blob, workspace_id=access.workspace.pk) or blob
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
            # Numbered for the version made next in this transaction (nobody sees it before),
            # so that it is written once, not written and then updated.
            now = timezone.now()
            doc = insert(
                Document(
                    workspace=access.workspace,
                    folder=folder,
                    name=name,
                    created_by=actor,
                    created_at=now,
                    updated_at=now,
                    current_version_number=1,
                )
            )
        version, _ = _add_version(
            actor=actor,
            access=access,
            document=doc,
            blob=blob,
            filename=name,
            content_type=content_type,
            note=note,
            based_on_number=None,
            upload_key=key,
            refuse_same_as_latest=True,  # a new document has no latest version
            stamp=stamp,
            new_document=created_doc,
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
    """What :func:`documents_upload` did: the versions made, and for each file left out (the
    same as its document's latest version, or its document sealed), a sentence saying so
    (nothing was made for it)."""

    versions: list[Version] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def documents_upload(
    *,
    actor: User,
    access: WorkspaceAccess,
    files: list[UploadedFile],
    folder: Folder | None = None,
    note: str = "",
    upload_keys: list[str] | None = None,
    info: RequestInfo = SYSTEM,
) -> UploadBatch:
    """Several files at once, as :func:`document_upload` each (the i-th key goes with the i-th
    file). Every name is checked before any file is stored, so a bad name refuses the lot. A file
    whose bytes are its document's latest version, or whose document is sealed, is left out and
    said so (``UploadBatch.unchanged``); the others are uploaded (dropping a folder's files
    again adds versions only for those that changed)."""
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
            if exc.code not in ("same_as_latest", Sealed.code):
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
    if version.based_on_from_file:
        data["based_on_from_file"] = True
    if version.identical_to_number and not version.restored_from_number:
        data["identical_to"] = version.identical_to_number
    if version.while_locked_by is not None:
        data["while_locked"] = _lock_data(
            hooks.EditLock(
                holder=version.while_locked_by,
                app=version.while_locked_in,
                since=version.while_locked_since or version.created_at,
            )
        )
    return data


def _lock_data(lock: hooks.EditLock) -> dict[str, Any]:
    """A lock as the trail records it: whose, in which program, since when."""
    return {
        "holder": lock.holder.email,
        "holder_id": lock.holder.pk,
        "app": lock.app,
        "since": lock.since.isoformat(),
    }


def version_upload(
    *,
    actor: User,
    doc_access: DocumentAccess,
    uploaded: UploadedFile,
    based_on_number: int | None = None,
    note: str = "",
    upload_key: str | None = None,
    info: RequestInfo = SYSTEM,
    stamp: Stamp | Literal["read"] | None = "read",
) -> Version:
    """Add a new version. ``based_on_number`` names the version the author amended (the page's
    latest when it was opened); an Office file's own stamp, read here in a confined child,
    names the version it was downloaded from and wins over it (``stamping``). A caller that
    wrote the file itself (accepting suggestions or a Word file's tracked changes) says what its
    stamp is (``stamp``: a :class:`Stamp` or ``None``): no child reads it again, and no stamped
    copy is made to compare it with (a file made from changes is not a download sent back
    unchanged). When the base is
    no longer the latest the upload is kept all the same and flagged, so nothing is lost.
    Bytes identical to the latest version are refused (``same_as_latest``, 409): no version,
    no notification. Identical to an older version is allowed (a deliberate return to it) and
    recorded (``identical_to_number``)."""
    _require_doc(doc_access, "upload_version", "You cannot upload new versions here.")
    name = clean_filename(uploaded.name or doc_access.document.name)
    key = _clean_upload_key(upload_key)
    # Refuse a base that does not exist before storing anything, by the document as this
    # request read it (checked again under the lock).
    _check_based_on(based_on_number, doc_access.document.current_version_number)
    blob = blob_store(uploaded=uploaded)
    content_type = detect_content_type(uploaded, name)
    # Before any lock (a child runs): what the file says it is, and whether it is a download
    # sent back unchanged (then it is that version's own bytes).
    workspace_id = doc_access.access.workspace.pk
    if stamp == "read":
        stamp = stamp_read(blob=blob, content_type=content_type, uploaded=uploaded)
        blob = unchanged_download(stamp=stamp, blob=blob, workspace_id=workspace_id) or blob
    with transaction.atomic():
        doc_access = document_access_locked(
            actor, doc_access, "upload_version", "You cannot upload new versions here."
        )
        version, created = _add_version(
            actor=actor,
            access=doc_access.access,
            document=doc_access.document,
            blob=blob,
            filename=name,
            content_type=content_type,
            note=note,
            based_on_number=based_on_number,
            upload_key=key,
            refuse_same_as_latest=True,
            stamp=stamp,
            row_locked=True,  # document_access_locked read it under its lock just now
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
    *,
    actor: User,
    doc_access: DocumentAccess,
    number: int,
    note: str = "",
    info: RequestInfo = SYSTEM,
) -> Version:
    """Make an old version current again by adding it as a new version: history is kept. The
    new version's note is ``note`` when given (why it was restored), else "Restored version
    N"."""
    doc_access = document_access_locked(
        actor, doc_access, "restore_version", "You cannot restore versions here."
    )
    old = doc_access.document.versions.select_related("blob").filter(number=number).first()
    if old is None:
        raise NotFound()
    version, _ = _add_version(
        actor=actor,
        access=doc_access.access,
        document=doc_access.document,
        blob=old.blob,
        filename=old.filename,
        content_type=old.content_type,
        note=note or f"Restored version {old.number}",
        based_on_number=None,
        upload_key=None,
        restored_from=old.number,
        row_locked=True,  # document_access_locked read it under its lock just now
    )
    _audit(
        doc_access.document,
        action=Action.VERSION_RESTORED,
        actor=actor,
        info=info,
        data={
            "version": version.number,
            "restored_from": old.number,
            **{k: v for k, v in _version_data(version).items() if k == "while_locked"},
        },
    )
    return version


def document_record_view(*, actor: User, doc_access: DocumentAccess, info: RequestInfo) -> None:
    """Viewing a document's page is audited once per person, version shown and ten minutes
    (``audit.services.audit_record_reading``), so reloading it cannot flood the trail."""
    doc = doc_access.document
    number = doc.current_version_number
    audit_record_reading(
        action=Action.DOCUMENT_VIEWED,
        actor=actor,
        subject=f"{doc.pk}:v{number}",
        info=info,
        workspace_id=doc.workspace_id,
        document_id=doc.pk,
        target_type="document",
        target_id=str(doc.pk),
        target_label=doc.name,
        data={"version": number},
    )


DownloadKind = Literal[
    "version", "tracked_changes", "certificate", "webdav_copy", "webdav_folder_copy"
]


def download_require(
    *,
    actor: User,
    doc_access: DocumentAccess,
    what: DownloadKind,
    number: Any = None,
    info: RequestInfo = SYSTEM,
) -> None:
    """Before any download of a document's bytes (a version, the Word file with tracked
    changes, a final record's certificate, a WebDAV GET or COPY): refused with a sentence
    (403) unless the person may download (``download``, decided by
    ``workspaces.permissions.abilities_for_role``), the refusal audited as
    ``download.refused``. Reading in the browser is not a download and never asks this."""
    if doc_access.can("download"):
        return
    access = doc_access.access
    document = doc_access.document
    why = download_refusal(
        access.role, guest=actor.is_guest, downloads=download_settings(access.workspace)
    )
    facts: dict[str, Any] = {"what": what, "role": access.role, "guest": actor.is_guest}
    if isinstance(number, int) or (isinstance(number, str) and number.isdecimal()):
        facts["version"] = int(number)
    if why is None:
        facts["reason"] = "trash" if document.in_trash else "not allowed"
    with transaction.atomic():
        _audit(document, action=Action.DOWNLOAD_REFUSED, actor=actor, info=info, data=facts)
    if why is None:
        raise PermissionDenied("You cannot download this document.")
    raise PermissionDenied(why, code="download_off")


def folder_download_require(
    *, actor: User, access: WorkspaceAccess, folder: Folder, info: RequestInfo = SYSTEM
) -> None:
    """Before a copy of a folder's documents (WebDAV's COPY of a folder): refused, as
    :func:`download_require` refuses one document, before anything is made, so that a refused
    copy leaves no half-copied folder behind. An external guest whose PDFs this workspace
    watermarks (decision 28) is refused a folder holding one (``watermarked``): a copy cannot
    stamp them."""
    why = download_refusal(
        access.role, guest=actor.is_guest, downloads=download_settings(access.workspace)
    )
    facts = {"what": "webdav_folder_copy", "role": access.role, "guest": actor.is_guest}
    if why is None:
        if not _folder_holds_stamped_only(actor=actor, access=access, folder=folder):
            return
        facts["reason"] = "watermarked"
        with transaction.atomic():
            _audit(folder, action=Action.DOWNLOAD_REFUSED, actor=actor, info=info, data=facts)
        raise PermissionDenied(WATERMARKED_ELSEWHERE, code="watermarked")
    with transaction.atomic():
        _audit(folder, action=Action.DOWNLOAD_REFUSED, actor=actor, info=info, data=facts)
    raise PermissionDenied(why, code="download_off")


def _folder_holds_stamped_only(*, actor: User, access: WorkspaceAccess, folder: Folder) -> bool:
    """Whether the folder's subtree holds a live document whose latest version ``actor``
    could only download stamped (``selectors.download_watermark``: a guest's PDF where the
    workspace watermarks guests' downloads), which a copy cannot stamp (decision 28)."""
    if not (actor.is_guest and access.workspace.watermark_guest_downloads):
        return False
    folder_ids = {folder.pk}
    frontier = {folder.pk}
    while frontier:
        frontier = (
            set(Folder.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
            - folder_ids
        )
        folder_ids |= frontier
    return Version.objects.filter(
        document__folder_id__in=folder_ids,
        document__deleted_at__isnull=True,
        number=F("document__current_version_number"),
        content_type=PDF_TYPE,
    ).exists()


@dataclass
class Download:
    """What a person downloads: the version, and ``file``, the copy made for them (their
    watermark on every page of a PDF), or None for the version's own file."""

    version: Version
    file: DownloadFile | None = None


WATERMARKED_ELSEWHERE = (
    "This workspace watermarks the PDFs external guests download: download it from the "
    "document's page."
)


def download_refuse_watermarked(
    *,
    actor: User,
    doc_access: DocumentAccess,
    what: DownloadKind,
    version: Version,
    message: str,
    info: RequestInfo = SYSTEM,
) -> None:
    """Refuse, with ``message`` (403 ``watermarked``), a download that could only hand
    ``actor`` an unstamped copy of a PDF their watermark must be on
    (``selectors.download_watermark``), the refusal audited as ``download.refused``, reason
    ``watermarked``. Does nothing when no watermark is owed."""
    if download_watermark(doc_access=doc_access, reader=actor, version=version) is None:
        return
    watermarked_elsewhere_refuse(
        actor=actor,
        doc_access=doc_access,
        what=what,
        number=version.number,
        info=info,
        message=message,
    )


def version_download(
    *,
    actor: User,
    doc_access: DocumentAccess,
    number: Any,
    info: RequestInfo,
    stamping: bool = True,
) -> Download:
    """The one way a version's file is downloaded (pages, the API, WebDAV's GET): refused
    unless the person may download (:func:`download_require`, audited), then stamped with
    their watermark where ``selectors.download_watermark`` says so (a copy that cannot be
    stamped is refused, and nothing recorded), the download audited and, the first time,
    counted as their reading (decision 26). ``stamping=False`` for a route that can only send
    the stored bytes (WebDAV): a copy that must carry the reader's watermark is refused there
    with a sentence pointing to the document's page."""
    download_require(actor=actor, doc_access=doc_access, what="version", number=number, info=info)
    version = version_get(doc_access=doc_access, number=number)
    watermark = download_watermark(doc_access=doc_access, reader=actor, version=version)
    if watermark is not None and not stamping:
        watermarked_elsewhere_refuse(
            actor=actor, doc_access=doc_access, what="version", number=version.number, info=info
        )
    file = stamped_pdf(version, watermark) if watermark is not None else None
    try:
        _download_recorded(actor, doc_access, version, info, watermarked=file is not None)
    except BaseException:
        if file is not None:
            file.handle.close()
        raise
    return Download(version, file)


def watermarked_elsewhere_refuse(
    *,
    actor: User,
    doc_access: DocumentAccess,
    what: DownloadKind,
    number: int | None,
    info: RequestInfo,
    message: str = WATERMARKED_ELSEWHERE,
) -> NoReturn:
    """A route that can only send the stored bytes (WebDAV's GET and COPY, a PDF record's
    signed certificate) refuses a copy that must carry the reader's watermark (decision 28):
    ``download.refused`` with reason ``watermarked``, committed before the request fails, and
    ``message`` (by default the sentence pointing to the document's page)."""
    facts: dict[str, Any] = {
        "what": what,
        "role": doc_access.access.role,
        "guest": actor.is_guest,
        "reason": "watermarked",
    }
    if number is not None:
        facts["version"] = number
    with transaction.atomic():
        _audit(
            doc_access.document, action=Action.DOWNLOAD_REFUSED, actor=actor, info=info, data=facts
        )
    raise PermissionDenied(message, code="watermarked")


def version_for_download(
    *, actor: User, doc_access: DocumentAccess, number: Any, info: RequestInfo
) -> Version:
    """The version whose stored bytes a person reads (WebDAV's GET): :func:`version_download`
    without a stamped copy, so checked, audited and counted as a reading the same way."""
    return version_download(
        actor=actor, doc_access=doc_access, number=number, info=info, stamping=False
    ).version


def _download_recorded(
    actor: User,
    doc_access: DocumentAccess,
    version: Version,
    info: RequestInfo,
    *,
    watermarked: bool,
) -> None:
    data: dict[str, Any] = {"version": version.number, "sha256": version.blob_id}
    if watermarked:
        data["watermarked"] = True
    with transaction.atomic():
        # The person's role read again under the workspace's lock: one removed, demoted or
        # put under a stricter download rule meanwhile downloads nothing.
        fresh = lock_access(actor=actor, access=doc_access.access)
        doc = doc_access.document
        now = DocumentAccess(
            doc,
            fresh,
            document_abilities(
                fresh, in_trash=doc.in_trash, sealed=doc.sealed_version_id is not None
            ),
        )
        if now.can("download"):
            # A download is a reading of the version: its receipt, the first time (decision 26).
            receipt = _read_claim(actor, now, version, ReadBy.DOWNLOAD)
            _audit(doc, action=Action.VERSION_DOWNLOADED, actor=actor, info=info, data=data)
            if receipt is not None:
                _audit_read(doc, receipt, actor=actor, info=info)
            return
    # Refused on the fresh access, its refusal audited and committed.
    download_require(actor=actor, doc_access=now, what="version", number=version.number, info=info)
    raise PermissionDenied("You cannot download this document.")


# --- Read receipts (decision 26) ---------------------------------------------------------------


def _read_claim(
    actor: User,
    doc_access: DocumentAccess,
    version: Version,
    read_by: ReadBy,
    visible_seconds: int | None = None,
) -> VersionRead | None:
    """Inside a transaction: ``actor``'s receipt for ``version``, made now if they had none
    (returned), else None (the first reading stands: a replay changes nothing). Their
    membership and the document are read again under the workspace's lock before a receipt is
    made, so a person removed meanwhile, or a document put in the trash meanwhile, gets none
    (404)."""
    mine = VersionRead.objects.filter(version=version, reader=actor)
    if mine.exists():
        return None
    lock_access(actor=actor, access=doc_access.access)
    if Document.objects.filter(pk=version.document_id, deleted_at__isnull=False).exists():
        raise NotFound()
    if mine.exists():  # made by another request of theirs while this one waited for the lock
        return None
    return VersionRead.objects.create(
        version=version,
        document_id=version.document_id,
        reader=actor,
        read_by=read_by,
        visible_seconds=visible_seconds,
    )


def _audit_read(doc: Document, receipt: VersionRead, *, actor: User, info: RequestInfo) -> None:
    data: dict[str, Any] = {"version": receipt.version.number, "read_by": receipt.read_by}
    if receipt.visible_seconds is not None:
        data["visible_seconds"] = receipt.visible_seconds
    _audit(doc, action=Action.VERSION_READ, actor=actor, info=info, data=data)


def _reading_refused(message: str, code: str) -> ApplicationError:
    return ApplicationError(f"{message} Nothing was recorded.", code=code)


def version_read_record(
    *,
    actor: User,
    doc_access: DocumentAccess,
    number: Any,
    token: str,
    visible_seconds: int,
    info: RequestInfo = SYSTEM,
) -> tuple[VersionRead, bool]:
    """A page (or API client) says ``actor`` has had version ``number``'s preview open and
    visible for ``visible_seconds``, sending back the token it was served with
    (``selectors.reading_token``). Counted when the token is this person's, for this version,
    and the seconds reach :data:`READING_SECONDS` without being more than have passed since
    the page was served. Returns the receipt and whether it is new (a replay, or a version
    already read, changes nothing). Anything else is refused with a sentence, nothing kept."""
    version = version_get(doc_access=doc_access, number=number)
    if not doc_access.can("view"):
        raise NotFound()
    try:
        claim = signing.loads(token, salt=READING_SALT)
    except signing.BadSignature:
        raise _reading_refused("This reading's token is not valid.", "invalid_reading") from None
    if not isinstance(claim, dict) or claim.get("r") != actor.pk:
        raise _reading_refused("This reading was started by someone else.", "not_your_reading")
    if claim.get("d") != str(doc_access.document.pk) or claim.get("v") != version.number:
        raise _reading_refused(
            f"This reading was of another version, not version {version.number} of this document.",
            "wrong_version",
        )
    if visible_seconds < READING_SECONDS:
        raise _reading_refused(
            f"A version counts as read after {READING_SECONDS} seconds with its preview on screen.",
            "not_read_yet",
        )
    elapsed = timezone.now().timestamp() - float(claim.get("t", 0))
    if elapsed > READING_TOKEN_HOURS * 3600:
        raise _reading_refused(
            "This page was opened too long ago for its reading to count: reload it.",
            "reading_expired",
        )
    # A second's grace for the clocks' rounding; never more seconds than have passed.
    if visible_seconds > elapsed + 1:
        raise _reading_refused(
            f"The page was served {max(int(elapsed), 0)} seconds ago, less than the "
            f"{visible_seconds} seconds it says it was read for.",
            "implausible_reading",
        )
    with transaction.atomic():
        receipt = _read_claim(actor, doc_access, version, ReadBy.PREVIEW, visible_seconds)
        if receipt is not None:
            _audit_read(doc_access.document, receipt, actor=actor, info=info)
            return receipt, True
    existing = VersionRead.objects.select_related("version").get(version=version, reader=actor)
    return existing, False


def version_read_by_approval(*, actor: User, version_id: int, info: RequestInfo = SYSTEM) -> None:
    """``actor`` approved version ``version_id``: an approval is a reading (its receipt, the
    first time). Called by approvals once the approval is committed; someone no longer a
    member, or a document gone to the trash, gets none."""
    version = Version.objects.select_related("document").filter(pk=version_id).first()
    if version is None:
        return
    try:
        doc_access = document_access(
            user=actor, workspace_id=version.document.workspace_id, document_id=version.document_id
        )
    except NotFound:
        return
    with transaction.atomic():
        receipt = _read_claim(actor, doc_access, version, ReadBy.APPROVAL)
        if receipt is not None:
            _audit_read(doc_access.document, receipt, actor=actor, info=info)


@transaction.atomic
def document_readers_remind(
    *, actor: User, doc_access: DocumentAccess, info: RequestInfo = SYSTEM
) -> ReadReminder:
    """Remind each member who has not read the latest version (a notification and an email,
    through the hook's ``ReadersReminded``, which notifications follows): once a day at most
    per document, whoever asks; a second time the same day is refused with a sentence and
    nothing is sent. Managers and editors only (``remind_readers``)."""
    fresh = document_access_locked(
        actor,
        doc_access,
        "remind_readers",
        "Only managers and editors can remind people to read a document.",
    )
    doc = fresh.document
    if doc.current_version_number == 0:
        raise ApplicationError("There is no version to read yet.", code="no_version")
    already = ReadReminder.objects.filter(document=doc, day=timezone.localdate()).first()
    if already is not None:
        raise Conflict(
            f"{already.sent_by.display_name} already reminded them today at "
            f"{timezone.localtime(already.sent_at):%H:%M}: nothing was sent. Reminders go at "
            "most once a day.",
            code="reminded_today",
        )
    readers = version_readers(doc_access=fresh)
    user_ids = tuple(r.person.pk for r in readers.unread if r.person.pk != actor.pk)
    if not user_ids:
        raise ApplicationError(
            f"Everyone else has read version {readers.version.number}: nobody was reminded.",
            code="nobody_to_remind",
        )
    reminder = ReadReminder.objects.create(
        document=doc,
        day=timezone.localdate(),
        version_number=readers.version.number,
        sent_by=actor,
        recipients=len(user_ids),
    )
    hooks.changed(
        hooks.ReadersReminded(actor=actor, document=doc, version=readers.version, user_ids=user_ids)
    )
    _audit(
        doc,
        action=Action.READERS_REMINDED,
        actor=actor,
        info=info,
        data={"version": readers.version.number, "reminded": list(user_ids)},
    )
    return reminder


# --- Names and places ------------------------------------------------------------------------


@transaction.atomic
def document_rename(
    *, actor: User, doc_access: DocumentAccess, name: str, info: RequestInfo = SYSTEM
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
    hooks.changed(hooks.DocumentRenamed(actor=actor, document=doc, old_name=old))
    _audit(doc, action=Action.DOCUMENT_RENAMED, actor=actor, info=info, data={"from": old})
    return doc


@transaction.atomic
def document_move(
    *, actor: User, doc_access: DocumentAccess, folder: Folder | None, info: RequestInfo = SYSTEM
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
    from_folder_id = doc.folder_id
    doc.folder = folder
    doc.save(update_fields=["folder"])
    hooks.changed(hooks.DocumentMoved(actor=actor, document=doc, from_folder_id=from_folder_id))
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
    actor: User,
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
    hooks.changed(hooks.FolderCreated(actor=actor, folder=folder))
    _audit(folder, action=Action.FOLDER_CREATED, actor=actor, info=info)
    return folder


@transaction.atomic
def folder_rename(
    *, actor: User, access: WorkspaceAccess, folder: Folder, name: str, info: RequestInfo = SYSTEM
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
    hooks.changed(hooks.FolderRenamed(actor=actor, folder=folder, old_name=old))
    _audit(folder, action=Action.FOLDER_RENAMED, actor=actor, info=info, data={"from": old})
    return folder


@transaction.atomic
def folder_move(
    *,
    actor: User,
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
    from_parent_id = folder.parent_id
    folder.parent = parent
    folder.save(update_fields=["parent"])
    hooks.changed(hooks.FolderMoved(actor=actor, folder=folder, from_parent_id=from_parent_id))
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
def document_delete(*, actor: User, doc_access: DocumentAccess, info: RequestInfo = SYSTEM) -> None:
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
    hooks.changed(hooks.DocumentTrashed(actor=actor, document=doc))
    _audit(doc, action=Action.DOCUMENT_DELETED, actor=actor, info=info)


@transaction.atomic
def folder_delete(
    *, actor: User, access: WorkspaceAccess, folder: Folder, info: RequestInfo = SYSTEM
) -> None:
    """Move a folder and everything in it to the trash, as one item that restores as one."""
    access = _locked(actor, access, "delete_documents", "You cannot delete folders here.")
    now = timezone.now()
    inner = _descendant_folder_ids(folder)
    sealed = (
        Document.objects.filter(
            folder_id__in=[folder.pk, *inner],
            deleted_at__isnull=True,
            sealed_version__isnull=False,
        )
        .select_related("sealed_version")
        .order_by("name")
        .first()
    )
    if sealed is not None:
        refusal = Sealed.of(sealed)
        raise Sealed(f"“{folder.name}” cannot be moved to the trash: {refusal.message}")
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
    # With the documents it took (those trashed before it are not among them).
    taken = tuple(Document.objects.filter(trashed_with=folder.pk))
    hooks.changed(hooks.FolderTrashed(actor=actor, folder=folder, documents=taken))
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
    *, actor: User, access: WorkspaceAccess, document: Document, info: RequestInfo = SYSTEM
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
    hooks.changed(hooks.DocumentRestored(actor=actor, document=doc))
    _audit(doc, action=Action.DOCUMENT_RESTORED, actor=actor, info=info)
    return doc


# How long after putting a document in the trash its deleter may still bring it back by saving
# over its name (document_revive): a client's save that deletes the original first.
REVIVE_WINDOW = timedelta(seconds=30)


@transaction.atomic
def document_revive(
    *, actor: User, access: WorkspaceAccess, document: Document, info: RequestInfo = SYSTEM
) -> Document:
    """Bring back a document that ``actor`` put in the trash on its own moments ago (within
    :data:`REVIVE_WINDOW`), because they are now saving over its name: a WebDAV client's save
    that deletes the original before it puts the new file in its place. Whoever may delete
    documents there may (no trash manager needed: it is their own deletion, undone); the
    document comes back with its history and comments, under its name, in its folder (a folder
    in the trash, or a live document that took the name since, and it stays where it is:
    :class:`NotFound`, :class:`Conflict`). Audited as restored, ``revived``."""
    access = _locked(actor, access, "delete_documents", "You cannot restore documents here.")
    # Read again after the workspace's lock, which every change to a document takes first.
    doc = (
        Document.objects.select_related("folder")
        .filter(pk=document.pk, workspace_id=access.workspace.pk)
        .first()
    )
    if (
        doc is None
        or doc.deleted_at is None
        or doc.deleted_by_id != actor.pk
        or doc.trashed_with is not None
        or doc.deleted_at < timezone.now() - REVIVE_WINDOW
        or (doc.folder is not None and doc.folder.in_trash)
    ):
        raise NotFound()
    if _live_document_named(access, doc.folder, doc.name, exclude=doc.pk):
        raise Conflict(f"There is already a document called {doc.name} here.", code="name_taken")
    doc.deleted_at = None
    doc.deleted_by = None
    doc.save(update_fields=["deleted_at", "deleted_by"])
    hooks.changed(hooks.DocumentRestored(actor=actor, document=doc))
    _audit(doc, action=Action.DOCUMENT_RESTORED, actor=actor, info=info, data={"revived": True})
    return doc


@transaction.atomic
def folder_restore(
    *, actor: User, access: WorkspaceAccess, folder: Folder, info: RequestInfo = SYSTEM
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
    # What it took comes back with it; documents trashed on their own stay in the trash.
    hooks.changed(hooks.FolderRestored(actor=actor, folder=folder, documents=tuple(back)))
    _audit(folder, action=Action.FOLDER_RESTORED, actor=actor, info=info)
    return folder


def document_purge(
    *, actor: User, access: WorkspaceAccess, document: Document, info: RequestInfo = SYSTEM
) -> None:
    """Remove a trashed document and its versions for good. Its blobs are left to the
    collector, which removes those no other version uses. A final record under the
    workspace's retention is not removed (:class:`UnderRetention`, 409), and the refused
    attempt is audited all the same. Call it outside any transaction: the refusal's audit row
    commits on its own."""
    try:
        _document_purge(actor=actor, access=access, document=document, info=info)
    except UnderRetention as refusal:
        _purge_refused(refusal, actor=actor, target=document, info=info)
        raise


@transaction.atomic
def _document_purge(
    *, actor: User, access: WorkspaceAccess, document: Document, info: RequestInfo
) -> None:
    access = _locked(actor, access, "manage_trash", "Only managers can purge the trash.")
    doc = Document.objects.select_for_update().get(pk=document.pk, workspace_id=access.workspace.pk)
    if not doc.in_trash:
        raise ApplicationError(
            "Move the document to the trash before purging it.", code="not_in_trash"
        )
    _refuse_if_retained(access.workspace, [doc.pk], what=f"“{doc.name}”")
    record, data = _purge(doc, actor=actor)
    transaction.on_commit(_enqueue_garbage_collection)
    _audit(record, action=Action.DOCUMENT_PURGED, actor=actor, info=info, data=data)


def _purge(doc: Document, *, actor: User) -> tuple[Document, dict[str, Any]]:
    """Delete ``doc`` (its versions and comments go with it) and tell the hook; what its audit
    row records, for the caller to write last."""
    versions = list(doc.versions.values_list("number", "blob_id"))
    record = copy.copy(doc)  # delete() clears the instance's pk; the audit row names it
    doc.delete()
    hooks.changed(
        hooks.DocumentPurged(
            actor=actor,
            workspace_id=record.workspace_id,
            document_id=record.pk,
            folder_id=record.folder_id,
            name=record.name,
        )
    )
    return record, {"versions": len(versions), "sha256": sorted({b for _, b in versions})}


def _enqueue_garbage_collection() -> None:
    from commonroom.documents.tasks import collect_garbage

    collect_garbage.enqueue()


def folder_purge(
    *, actor: User, access: WorkspaceAccess, folder: Folder, info: RequestInfo = SYSTEM
) -> None:
    """Remove a trashed folder and everything beneath it for good; refused whole, and the
    attempt audited, when a final record beneath it is under retention (as
    :func:`document_purge`)."""
    try:
        _folder_purge(actor=actor, access=access, folder=folder, info=info)
    except UnderRetention as refusal:
        _purge_refused(refusal, actor=actor, target=folder, info=info)
        raise


@transaction.atomic
def _folder_purge(
    *, actor: User, access: WorkspaceAccess, folder: Folder, info: RequestInfo
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
    _refuse_if_retained(access.workspace, [doc.pk for doc in docs], what=f"“{folder.name}”")
    locked = Document.objects.select_for_update().filter(pk__in=[doc.pk for doc in docs])
    purged = [_purge(doc, actor=actor) for doc in locked]
    record = copy.copy(folder)
    Folder.objects.filter(pk__in=beneath[1:]).delete()
    folder.delete()
    hooks.changed(
        hooks.FolderPurged(
            actor=actor,
            workspace_id=record.workspace_id,
            folder_id=record.pk,
            parent_id=record.parent_id,
            name=record.name,
        )
    )
    transaction.on_commit(_enqueue_garbage_collection)
    # The audit rows last (see audit): each document by name, then the folder.
    for gone, data in purged:
        _audit(gone, action=Action.DOCUMENT_PURGED, actor=actor, info=info, data=data)
    _audit(
        record, action=Action.FOLDER_PURGED, actor=actor, info=info, data={"documents": len(docs)}
    )


# --- Final records and retention -------------------------------------------------------------


def version_seal(
    *,
    actor: User,
    document: Document,
    version: Version,
    info: RequestInfo = SYSTEM,
    data: dict[str, Any] | None = None,
) -> Version:
    """Make ``version`` (the document's latest) its final record and seal the document: from
    now on nothing replaces or removes it (no upload, restore, rename, move or trip to the
    trash) until a manager reopens it (:func:`document_reopen`).

    For a caller that has decided a rule was met (an approval), *inside its transaction*, in
    which it already holds the workspace's lock (``document_access_locked`` or
    ``workspaces.services.lock_access``): taken again here, which costs nothing then. No
    ability is checked: the person who completes the rule may be a commenter. Refused
    (:class:`Conflict`) when the version is no longer the latest or the document is in the
    trash. Sealing again on the same version does nothing (no second audit row). Audited
    ``document.sealed`` with the version's number, its SHA-256 and ``data`` (what the caller
    wants kept beside them, such as the approval's id)."""
    if not transaction.get_connection().in_atomic_block:
        raise hooks.OutsideTransaction("version_seal runs inside its caller's transaction.")
    workspace_lock(workspace_id=document.workspace_id)
    doc = Document.objects.select_for_update().get(pk=document.pk)
    if version.document_id != doc.pk:
        raise NotFound()
    if doc.sealed_version_id == version.pk:
        version.refresh_from_db(fields=["record_at"])
        return version
    if doc.in_trash:
        raise Conflict(
            f"“{doc.name}” is in the trash: it cannot be sealed.", code="document_in_trash"
        )
    if version.number != doc.current_version_number:
        raise Conflict(
            f"Version {version.number} of “{doc.name}” is no longer the latest (version "
            f"{doc.current_version_number} is): it cannot become its final record.",
            code="not_latest",
        )
    # Set once: a record sealed again after a reopening keeps its first date.
    Version.objects.filter(pk=version.pk, record_at__isnull=True).update(record_at=timezone.now())
    version.refresh_from_db(fields=["record_at"])
    doc.sealed_version = version
    doc.save(update_fields=["sealed_version"])
    document.sealed_version = version
    hooks.changed(hooks.DocumentSealed(actor=actor, document=doc, version=version))
    _audit(
        doc,
        action=Action.DOCUMENT_SEALED,
        actor=actor,
        info=info,
        data={**(data or {}), "version": version.number, "sha256": version.blob_id},
    )
    return version


MAX_REOPEN_REASON = 500


def _clean_reopen_reason(reason: Any) -> str:
    return stated_text(
        reason,
        what="reason",
        limit=MAX_REOPEN_REASON,
        required=True,
        required_message="Say why the document is reopened.",
    )


@transaction.atomic
def document_reopen(
    *, actor: User, doc_access: DocumentAccess, reason: Any, info: RequestInfo = SYSTEM
) -> Document:
    """A manager reopens a sealed document, saying why: it takes new versions again (numbered
    above its final record, which stays a record: ``record_at`` is kept). Audited
    ``document.reopened`` with the reason."""
    why = _clean_reopen_reason(reason)
    doc_access = document_access_locked(actor, doc_access, "view", "You cannot see this document.")
    cannot = "Only the workspace's managers can reopen a sealed document."
    if not document_abilities(doc_access.access, sealed=True)["reopen"]:
        deny(doc_access.access, cannot)
    doc = doc_access.document
    record = doc.sealed_version
    if record is None:
        raise Conflict(
            f"“{doc.name}” is not sealed: there is nothing to reopen.", code="not_sealed"
        )
    _require_doc(doc_access, "reopen", cannot)
    doc.sealed_version = None
    doc.save(update_fields=["sealed_version"])
    hooks.changed(hooks.DocumentReopened(actor=actor, document=doc, version=record))
    _audit(
        doc,
        action=Action.DOCUMENT_REOPENED,
        actor=actor,
        info=info,
        data={"version": record.number, "sha256": record.blob_id, "reason": why},
    )
    return doc


@transaction.atomic
def document_lock_break(
    *, actor: User, doc_access: DocumentAccess, info: RequestInfo = SYSTEM
) -> list[hooks.EditLock]:
    """A manager ends another program's hold on a document (a WebDAV lock left behind when
    Word crashed, or by someone gone home): anyone may then change it again, and its holder's
    program can no longer save over it with the lock (it saves a copy instead; nothing is
    lost). Refused when nothing holds it (``not_locked``, 409). Audited ``document.lock_broken``
    with each lock's holder, program and start."""
    cannot = "Only the workspace's managers can break a lock."
    doc_access = document_access_locked(actor, doc_access, "view", cannot)
    _require_doc(doc_access, "break_lock", cannot)
    doc = doc_access.document
    ended = hooks.edit_locks.release(doc_access.access, doc)
    if not ended:
        raise Conflict(
            f"“{doc.name}” is not being edited in another program: there is no lock to break.",
            code="not_locked",
        )
    _audit(
        doc,
        action=Action.DOCUMENT_LOCK_BROKEN,
        actor=actor,
        info=info,
        data={"locks": [_lock_data(lock) for lock in ended]},
    )
    return ended


def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


def record_kept_until(record_at: datetime, years: int) -> datetime:
    """When a record made at ``record_at`` leaves a retention of ``years``."""
    return _years_before(record_at, -years)


def records_under_retention(*, workspace: Any, document_ids: Any = None) -> Any:
    """The versions of ``workspace`` (of ``document_ids``, when given) that are final records
    still under its retention (``record_retention_years`` since they became records), oldest
    record first. No retention (0 years): none."""
    years = int(workspace.record_retention_years)
    if years <= 0:
        return Version.objects.none()
    qs = Version.objects.filter(
        document__workspace_id=workspace.pk,
        record_at__gt=_years_before(timezone.now(), years),
    )
    if document_ids is not None:
        qs = qs.filter(document_id__in=document_ids)
    return qs.select_related("document").order_by("record_at", "pk")


def retention_refusal(workspace: Any, record: Version, *, what: str) -> UnderRetention:
    kept = record_kept_until(record.record_at or timezone.now(), workspace.record_retention_years)
    return UnderRetention.of(record, kept_until=kept, what=what)


def _refuse_if_retained(workspace: Any, document_ids: list[Any], *, what: str) -> None:
    record = records_under_retention(workspace=workspace, document_ids=document_ids).first()
    if record is not None:
        raise retention_refusal(workspace, record, what=what)


def _purge_refused(
    refusal: UnderRetention, *, actor: User | None, target: Document | Folder, info: RequestInfo
) -> None:
    """Audit a refused purge in a transaction of its own, which commits although the purge
    did not (``durable``: refused inside another transaction, whose rollback would take the
    row with it)."""
    record = refusal.record
    facts: dict[str, Any] = {}
    if record is not None:
        facts = {
            "version": record.number,
            "sha256": record.blob_id,
            "document": str(record.document_id),
        }
    with transaction.atomic(durable=True):
        audit_record(
            action=Action.RECORD_PURGE_REFUSED,
            actor=actor,
            info=info,
            workspace_id=target.workspace_id,
            document_id=record.document_id if record is not None else None,
            target_type="document" if isinstance(target, Document) else "folder",
            target_id=str(target.pk),
            target_label=target.name,
            data={"how": "purge", **facts},
        )


# --- Garbage collection ----------------------------------------------------------------------


def blobs_collect_garbage(*, grace: timedelta = GC_GRACE, info: RequestInfo = SYSTEM) -> int:
    """Delete blobs no version refers to and nobody touched for ``grace``: their files, then
    their rows, all while holding the rows' locks (an upload claiming one waits, then finds it
    gone and stores it again). A failure before the commit leaves rows without files, which
    are unreferenced anyway and go on the next run."""
    cutoff = timezone.now() - grace
    # A backup copies the files its database copy refers to after taking that copy: while one
    # runs, nothing is deleted (core/backup_lock.py).
    with transaction.atomic(), collector_turn() as free:
        if not free:
            log.warning("gc: a backup is running; nothing removed this time")
            return 0
        doomed = list(
            Blob.objects.select_for_update()
            .filter(touched_at__lt=cutoff)
            .exclude(pk__in=Version.objects.values("blob_id"))
            .values_list("sha256", flat=True)
        )
        if not doomed:
            return 0
        hooks.changed(hooks.BlobsCollected(shas=tuple(doomed)))  # previews drop their files
        for sha in doomed:
            default_storage.delete(blob_storage_name(sha))
        forget_blobs(doomed)  # their stamped copies (documents.stamping)
        Blob.objects.filter(pk__in=doomed).delete()
        audit_record(
            action=Action.BLOBS_COLLECTED,
            info=info,
            target_type="blob",
            data={"count": len(doomed), "sha256": doomed[:100]},
        )
    return len(doomed)


@dataclass
class SweepResult:
    """What :func:`storage_sweep` removed."""

    temporaries: int = 0  # upload scratch files left in the upload temporary folder
    partials: int = 0  # .partial-* files left beside the blobs
    unreferenced_files: int = 0  # files under blobs/ that no blob row names
    bytes: int = 0

    @property
    def files(self) -> int:
        return self.temporaries + self.partials + self.unreferenced_files


def storage_sweep(*, grace: timedelta = GC_GRACE, blobs: bool = True) -> SweepResult:
    """Delete the files crashes left on disk (see ``documents.integrity``): upload temporaries,
    and unless ``blobs`` is false (``commonroom serve`` at start, which must not walk every
    blob), partial blob copies and blob files no row names; each once untouched for ``grace``
    and not in use. A scratch file being written is locked by its process, so an upload in
    progress is never taken, however long it has been going; the lock dies with the process."""
    cutoff = time.time() - grace.total_seconds()
    result = SweepResult()
    for item in upload_temporaries():
        if item.modified < cutoff and remove_unless_in_use(item.path):
            result.temporaries += 1
            result.bytes += item.size
    if blobs:
        with collector_turn() as free:  # nothing under blobs/ goes while a backup copies it
            if free:
                _blob_leftovers_sweep(cutoff, result)
            else:
                log.warning("sweep: a backup is running; nothing removed beside the blobs")
    if result.files:
        log.info(
            "sweep: removed %d temporary, %d partial and %d unreferenced file(s), %d bytes",
            result.temporaries,
            result.partials,
            result.unreferenced_files,
            result.bytes,
        )
    return result


def _blob_leftovers_sweep(cutoff: float, result: SweepResult) -> None:
    candidates: dict[str, tuple[str, int]] = {}
    for item, partial in list(blob_file_entries()):  # on disk or in a bucket (no partials)
        if item.modified >= cutoff:
            continue
        if partial:
            if remove_unless_in_use(default_storage.path(item.name)):
                result.partials += 1
                result.bytes += item.size
        elif (sha := blob_name_sha256(item.name)) is not None:  # other names: left to a person
            candidates[sha] = (item.name, item.size)
    shas = list(candidates)
    for start in range(0, len(shas), 500):
        chunk = shas[start : start + 500]
        known = set(Blob.objects.filter(pk__in=chunk).values_list("pk", flat=True))
        for sha in chunk:
            name, size = candidates[sha]
            if sha not in known and _unreferenced_file_delete(sha=sha, name=name, size=size):
                result.unreferenced_files += 1
                result.bytes += size


def _unreferenced_file_delete(*, sha: str, name: str, size: int) -> bool:
    """Delete a blob file that no row names, holding a claim on that row meanwhile: an upload of
    the same bytes claims the row first, so it either claimed it before (we leave the file) or
    waits for us and then stores the bytes again."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                Blob.objects.create(sha256=sha, size=size)
        except IntegrityError:
            return False  # claimed by an upload since the listing: the file is theirs now
        default_storage.delete(name)
        Blob.objects.filter(pk=sha).delete()
    return True
