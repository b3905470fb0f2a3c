"""API operations on folders, documents, versions and the trash. Uploads stream (multipart);
downloads stream. Same selectors, services and abilities as the pages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.db import transaction
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field, StrictBool, StringConstraints

from commonroom.accounts.selectors import person_name
from commonroom.core.exceptions import PermissionDenied
from commonroom.core.pagination import AsRow, Keyset, PageIn, Row, page_for, page_schema
from commonroom.core.request_info import RequestInfo
from commonroom.core.views import AuthedRequest
from commonroom.documents import services
from commonroom.documents.downloads import version_file_response
from commonroom.documents.models import Document, Folder, ReadReminder, Version, VersionRead
from commonroom.documents.permissions import DocumentAbilities
from commonroom.documents.selectors import (
    READING_RULE,
    READING_SECONDS,
    DocumentAccess,
    Reader,
    abilities_of,
    document_access,
    document_rows,
    document_versions,
    edit_locks,
    folder_children,
    folder_documents,
    folder_get,
    folder_rows,
    last_read_numbers,
    latest_version,
    reading_token,
    trash_items,
    version_get,
    version_readers,
    version_rows,
)
from commonroom.documents.uploads import upload_error
from commonroom.workspaces.selectors import WorkspaceAccess, workspace_access

router = Router(tags=["documents"])

# Text as people type it. PostgreSQL cannot store a NUL character, so none is accepted (422).
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, StringConstraints(pattern=NO_NUL)]


class FolderOut(Schema):
    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    created_at: datetime
    deleted_at: datetime | None


class FolderIn(Schema):
    name: Text
    parent_id: uuid.UUID | None = None


class FolderPatch(Schema):
    name: Text | None = None
    parent_id: uuid.UUID | None = None
    move_to_top: StrictBool = False


class EditLockOut(Schema):
    """Someone holding a document open for editing in another program (Word over WebDAV)."""

    holder_email: str
    holder_name: str
    # The program as it named itself ("Word", "LibreOffice"); "" when it did not.
    app: str
    since: datetime


class VersionOut(Schema):
    number: int
    filename: str
    content_type: str
    size: int
    sha256: str
    author_email: str
    created_at: datetime
    note: str
    based_on: int | None
    based_on_latest: bool
    # The base was read from the uploaded file's own stamp (the version it was downloaded
    # from), not from the ``based_on`` the upload sent.
    based_on_from_file: bool
    # The first earlier version with the same bytes, if any.
    identical_to: int | None
    restored_from: int | None
    # When this version became a final record (null: it is not one). Set once, kept when the
    # document is reopened.
    record_at: datetime | None
    # Made while someone else held the document open in another program (null: not so): kept
    # all the same; their next save comes in as a newer version.
    while_locked: EditLockOut | None


class LockOut(Schema):
    # Whether another program holds the document open now, and whose lock it is (null: none).
    locked: bool
    lock: EditLockOut | None


class DocumentOut(Schema):
    id: uuid.UUID
    name: str
    folder_id: uuid.UUID | None
    current_version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    # The version that is its final record while it is sealed (null: not sealed). A sealed
    # document takes no new version, rename, move or deletion (409 `sealed`) until a manager
    # reopens it.
    sealed_version: int | None
    latest: VersionOut | None
    abilities: dict[str, bool]


class DocumentPatch(Schema):
    name: Text | None = None
    folder_id: uuid.UUID | None = None
    move_to_top: StrictBool = False


class ReopenIn(Schema):
    reason: Annotated[str, StringConstraints(pattern=NO_NUL, max_length=2000)]


class UploadOut(Schema):
    document: DocumentOut
    version: VersionOut


FolderPage = page_schema(FolderOut, "FolderPage")
DocumentPage = page_schema(DocumentOut, "DocumentPage")
VersionPage = page_schema(VersionOut, "VersionPage")

# The lists' orders (core.pagination): by name, newest version first, last put in the trash first.
BY_NAME = Keyset(("name", "pk"))
NEWEST_VERSION_FIRST = Keyset(("-number",))
LAST_TRASHED_FIRST = Keyset(("-deleted_at", "-pk"))


def folder_out(f: Folder) -> dict[str, object]:
    return folder_row_out(AsRow(f))


def folder_row_out(row: Row) -> dict[str, object]:
    """A folder as the API shows it, from a row of ``selectors.FOLDER_COLUMNS`` (or a folder,
    :class:`~commonroom.core.pagination.AsRow`)."""
    return {
        "id": row["id"],
        "name": row["name"],
        "parent_id": row["parent_id"],
        "created_at": row["created_at"],
        "deleted_at": row["deleted_at"],
    }


def version_out(v: Version) -> dict[str, object]:
    return version_row_out(AsRow(v))


def version_row_out(row: Row, prefix: str = "") -> dict[str, object]:
    """A version as the API shows it, from a row of ``selectors.VERSION_COLUMNS`` (each named
    after ``prefix``) or a version (:class:`~commonroom.core.pagination.AsRow`)."""
    while_locked = None
    if row[f"{prefix}while_locked_by_id"] is not None:
        while_locked = edit_lock_out(
            row[f"{prefix}while_locked_by__email"],
            row[f"{prefix}while_locked_by__full_name"],
            row[f"{prefix}while_locked_in"],
            row[f"{prefix}while_locked_since"] or row[f"{prefix}created_at"],
        )
    return {
        "number": row[f"{prefix}number"],
        "filename": row[f"{prefix}filename"],
        "content_type": row[f"{prefix}content_type"],
        "size": row[f"{prefix}size"],
        "sha256": row[f"{prefix}blob_id"],
        "author_email": row[f"{prefix}author__email"],
        "created_at": row[f"{prefix}created_at"],
        "note": row[f"{prefix}note"],
        "based_on": row[f"{prefix}based_on_number"],
        "based_on_latest": row[f"{prefix}based_on_latest"],
        "based_on_from_file": row[f"{prefix}based_on_from_file"],
        "identical_to": row[f"{prefix}identical_to_number"],
        "restored_from": row[f"{prefix}restored_from_number"],
        "record_at": row[f"{prefix}record_at"],
        "while_locked": while_locked,
    }


def edit_lock_out(email: str, full_name: str, app: str, since: datetime) -> dict[str, object]:
    """A hold by another program as the API shows it (``EditLockOut``): a document's lock now, or
    the one a version was made under (``while_locked``)."""
    return {
        "holder_email": email,
        "holder_name": person_name(full_name, email),
        "app": app,
        "since": since,
    }


def document_out(
    d: Document, abilities: DocumentAbilities, *, latest: Version | None = None
) -> dict[str, object]:
    """The document as the API shows it. ``latest``: its latest version, when the caller holds
    it already (an upload that has just made it); else it is read."""
    if latest is None or latest.number != d.current_version_number:
        latest = latest_version(d)
    return {
        "id": d.pk,
        "name": d.name,
        "folder_id": d.folder_id,
        "current_version": d.current_version_number,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "deleted_at": d.deleted_at,
        "sealed_version": d.sealed_version.number if d.sealed_version else None,
        "latest": version_out(latest) if latest else None,
        "abilities": abilities,
    }


def document_row_out(row: Mapping[str, Any], access: WorkspaceAccess) -> dict[str, object]:
    """:func:`document_out` of a row of ``selectors.DOCUMENT_COLUMNS``, for the lists: what
    the person may do with it decided for each row from its own state (``abilities_of``), as
    for one document."""
    return {
        "id": row["id"],
        "name": row["name"],
        "folder_id": row["folder_id"],
        "current_version": row["current_version_number"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "deleted_at": row["deleted_at"],
        "sealed_version": row["sealed_version__number"],
        "latest": None if row["latest__number"] is None else version_row_out(row, "latest__"),
        "abilities": abilities_of(access, row),
    }


def _info(request: AuthedRequest) -> RequestInfo:
    return RequestInfo.from_request(request)


def _doc(request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID) -> DocumentAccess:
    return document_access(user=request.user, workspace_id=workspace_id, document_id=document_id)


def _folder(access: WorkspaceAccess, folder_id: uuid.UUID | None) -> Folder | None:
    return folder_get(access=access, folder_id=folder_id) if folder_id else None


def _check_upload(request: AuthedRequest) -> None:
    error = upload_error(request)
    if error is not None:
        raise error


# --- Folders ---------------------------------------------------------------------------------


@router.get("/{workspace_id}/folders", response=FolderPage)
def folder_list(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    page: Query[PageIn],
    parent_id: uuid.UUID | None = None,
) -> object:
    """The folders in ``parent_id`` (absent: the top level), by name, a page at a time."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    parent = _folder(access, parent_id)
    window = page_for(page, keyset=BY_NAME, scope=f"folders:{workspace_id}:{parent_id or ''}")
    rows = window.window(folder_rows(folder_children(access=access, folder=parent)))
    return window.respond(request, rows, folder_row_out)


@router.post("/{workspace_id}/folders", response={201: FolderOut})
def folder_create(request: AuthedRequest, workspace_id: uuid.UUID, payload: FolderIn) -> object:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    folder = services.folder_create(
        actor=request.user,
        access=access,
        name=payload.name,
        parent=_folder(access, payload.parent_id),
        info=_info(request),
    )
    return Status(201, folder_out(folder))


@router.patch("/{workspace_id}/folders/{folder_id}", response=FolderOut)
def folder_update(
    request: AuthedRequest, workspace_id: uuid.UUID, folder_id: uuid.UUID, payload: FolderPatch
) -> object:
    # Several changes in one request: all of them or none.
    with transaction.atomic():
        access = workspace_access(user=request.user, workspace_id=workspace_id)
        folder = folder_get(access=access, folder_id=folder_id)
        if payload.name is not None:
            folder = services.folder_rename(
                actor=request.user,
                access=access,
                folder=folder,
                name=payload.name,
                info=_info(request),
            )
        if payload.parent_id is not None or payload.move_to_top:
            folder = services.folder_move(
                actor=request.user,
                access=access,
                folder=folder,
                parent=None if payload.move_to_top else _folder(access, payload.parent_id),
                info=_info(request),
            )
    return folder_out(folder)


@router.delete("/{workspace_id}/folders/{folder_id}", response={204: None})
def folder_delete(request: AuthedRequest, workspace_id: uuid.UUID, folder_id: uuid.UUID) -> object:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    folder = folder_get(access=access, folder_id=folder_id)
    services.folder_delete(actor=request.user, access=access, folder=folder, info=_info(request))
    return Status(204, None)


# --- Documents -------------------------------------------------------------------------------


@router.get("/{workspace_id}/documents", response=DocumentPage)
def document_list(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    page: Query[PageIn],
    folder_id: uuid.UUID | None = None,
) -> object:
    """The documents in ``folder_id`` (absent: the top level), by name, a page at a time, each
    with its latest version and what you may do with it."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    folder = _folder(access, folder_id)
    window = page_for(page, keyset=BY_NAME, scope=f"documents:{workspace_id}:{folder_id or ''}")
    rows = window.window(document_rows(folder_documents(access=access, folder=folder)))
    return window.respond(request, rows, lambda row: document_row_out(row, access))


# An upload whose bytes are the latest version's makes nothing (documents.services).
SAME_AS_LATEST_409: dict[str, Any] = {
    "responses": {
        "409": {
            "description": (
                "`same_as_latest`: the file's bytes are those of the latest version, so no "
                "new version was made (`detail` says which). A resend with the same "
                "`upload_key` is answered 201 with the version it made. `sealed`: the "
                "document is sealed, its final record stands; a manager can reopen it."
            ),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
        }
    }
}


# Every download of a document's bytes (decision 27).
DOWNLOAD_OFF_403: dict[str, Any] = {
    "description": (
        "`download_off`: the workspace's setting does not let this person download originals "
        "(`detail` says who may not); they can still read the document in the browser. The "
        "attempt is in the audit trail."
    ),
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}


SEALED_409: dict[str, Any] = {
    "responses": {
        "409": {
            "description": (
                "`sealed`: the document is sealed, its final record stands (`detail` says which "
                "version and since when); a manager can reopen it."
            ),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
        }
    }
}


@router.post(
    "/{workspace_id}/documents", response={201: UploadOut}, openapi_extra=SAME_AS_LATEST_409
)
def document_upload(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    file: File[UploadedFile],
    folder_id: Form[uuid.UUID | Literal[""] | None] = None,
    note: str = Form("", pattern=NO_NUL),
    upload_key: str = Form("", pattern=NO_NUL),
) -> object:
    """Upload a file (multipart field ``file``) into the folder ``folder_id`` (empty or absent:
    the top level). A document of the same name in the folder gets it as a new version, unless
    the bytes are its latest version's (409 ``same_as_latest``). Send the same ``upload_key``
    when retrying: it is stored once."""
    _check_upload(request)
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    version = services.document_upload(
        actor=request.user,
        access=access,
        uploaded=file,
        folder=_folder(access, folder_id or None),
        note=note,
        upload_key=upload_key or None,
        info=_info(request),
    )
    # The document as the upload's transaction left it, with the version it has just made and
    # the abilities of the access that made it: nothing to read again.
    doc = version.document
    return Status(
        201,
        {
            "document": document_out(doc, abilities_of(access, doc), latest=version),
            "version": version_out(version),
        },
    )


@router.get("/{workspace_id}/documents/{document_id}", response=DocumentOut)
def document_get(request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID) -> object:
    doc_access = _doc(request, workspace_id, document_id)
    return document_out(doc_access.document, doc_access.abilities)


@router.patch(
    "/{workspace_id}/documents/{document_id}", response=DocumentOut, openapi_extra=SEALED_409
)
def document_update(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, payload: DocumentPatch
) -> object:
    # Several changes in one request: all of them or none.
    with transaction.atomic():
        doc_access = _doc(request, workspace_id, document_id)
        if payload.name is not None:
            services.document_rename(
                actor=request.user, doc_access=doc_access, name=payload.name, info=_info(request)
            )
        if payload.folder_id is not None or payload.move_to_top:
            target = None if payload.move_to_top else _folder(doc_access.access, payload.folder_id)
            services.document_move(
                actor=request.user, doc_access=doc_access, folder=target, info=_info(request)
            )
    doc_access = _doc(request, workspace_id, document_id)
    return document_out(doc_access.document, doc_access.abilities)


@router.delete(
    "/{workspace_id}/documents/{document_id}", response={204: None}, openapi_extra=SEALED_409
)
def document_delete(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID
) -> object:
    doc_access = _doc(request, workspace_id, document_id)
    services.document_delete(actor=request.user, doc_access=doc_access, info=_info(request))
    return Status(204, None)


@router.post(
    "/{workspace_id}/documents/{document_id}/reopen",
    response=DocumentOut,
    openapi_extra={
        "responses": {
            "409": {
                "description": "`not_sealed`: the document is not sealed.",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
                },
            }
        }
    },
)
def document_reopen(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, payload: ReopenIn
) -> object:
    """A manager reopens a sealed document, saying why (1 to 500 characters, audited): new
    versions go above its final record, which stays a record (`record_at`)."""
    doc_access = _doc(request, workspace_id, document_id)
    services.document_reopen(
        actor=request.user, doc_access=doc_access, reason=payload.reason, info=_info(request)
    )
    doc_access = _doc(request, workspace_id, document_id)
    return document_out(doc_access.document, doc_access.abilities)


@router.get("/{workspace_id}/documents/{document_id}/lock", response=LockOut)
def document_lock(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID
) -> object:
    """Whether the document is held open for editing in another program (a WebDAV lock: Word,
    LibreOffice...), by whom, in which program, since when."""
    doc_access = _doc(request, workspace_id, document_id)
    doc = doc_access.document
    lock = edit_locks(access=doc_access.access, documents=[doc]).get(doc.pk)
    return {
        "locked": lock is not None,
        "lock": (
            edit_lock_out(lock.holder.email, lock.holder.full_name, lock.app, lock.since)
            if lock is not None
            else None
        ),
    }


@router.delete(
    "/{workspace_id}/documents/{document_id}/lock",
    response={204: None},
    openapi_extra={
        "responses": {
            "409": {
                "description": "`not_locked`: no program holds the document open.",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
                },
            }
        }
    },
)
def document_lock_break(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID
) -> object:
    """A manager breaks another program's lock on the document (one left behind by a crashed
    Word, say): audited. Its holder's program can no longer save over the document with it."""
    doc_access = _doc(request, workspace_id, document_id)
    services.document_lock_break(actor=request.user, doc_access=doc_access, info=_info(request))
    return Status(204, None)


# --- Versions --------------------------------------------------------------------------------


@router.get("/{workspace_id}/documents/{document_id}/versions", response=VersionPage)
def version_list(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, page: Query[PageIn]
) -> object:
    """The document's versions, newest first, a page at a time."""
    doc_access = _doc(request, workspace_id, document_id)
    window = page_for(page, keyset=NEWEST_VERSION_FIRST, scope=f"versions:{document_id}")
    rows = window.window(version_rows(document_versions(doc_access=doc_access)))
    return window.respond(request, rows, version_row_out)


@router.post(
    "/{workspace_id}/documents/{document_id}/versions",
    response={201: VersionOut},
    openapi_extra=SAME_AS_LATEST_409,
)
def version_upload(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    file: File[UploadedFile],
    based_on: Form[int | Literal[""] | None] = None,
    note: str = Form("", pattern=NO_NUL),
    upload_key: str = Form("", pattern=NO_NUL),
) -> object:
    """Add a version. ``based_on`` names the version you amended (empty or absent: the latest);
    if it is not the latest the upload is kept anyway and flagged ``based_on_latest: false``.
    A .docx, .xlsx or .pptx downloaded from here says which version it was; that wins over
    ``based_on`` (``based_on_from_file: true``). A file identical to the latest version is
    refused (409 ``same_as_latest``); one identical to an earlier version says which
    (``identical_to``)."""
    _check_upload(request)
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    version = services.version_upload(
        actor=request.user,
        doc_access=doc_access,
        uploaded=file,
        based_on_number=based_on if isinstance(based_on, int) else None,
        note=note,
        upload_key=upload_key or None,
        info=_info(request),
    )
    return Status(201, version_out(version))


@router.get("/{workspace_id}/documents/{document_id}/versions/{number}", response=VersionOut)
def version_detail(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, number: int
) -> object:
    return version_out(
        version_get(doc_access=_doc(request, workspace_id, document_id), number=number)
    )


@router.get(
    "/{workspace_id}/documents/{document_id}/versions/{number}/content",
    response={200: bytes},
    openapi_extra={
        "responses": {
            "200": {
                "description": (
                    "The version's bytes, streamed as an attachment, with the content type "
                    "detected when it was uploaded; a file a browser could run (JavaScript, "
                    "HTML, SVG, XML, XHTML) as `application/octet-stream`, and every file "
                    "sandboxed and same-origin only. A .docx, .xlsx or .pptx carries which "
                    "version it is (the custom document property `CommonroomVersion`); "
                    "nothing else in it differs from what was uploaded."
                ),
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                "headers": {
                    "Content-Disposition": {
                        "description": (
                            "`attachment`, named after the document and the version: "
                            "`<document> (version N).<extension>`."
                        ),
                        "required": True,
                        "schema": {"type": "string", "pattern": "^attachment;"},
                    },
                    "Content-Security-Policy": {
                        "description": "`sandbox`: opened in a browser, nothing in it runs.",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^sandbox$"},
                    },
                    "Cross-Origin-Resource-Policy": {
                        "description": "`same-origin`: no other site may embed it.",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^same-origin$"},
                    },
                    "Content-Length": {
                        "description": "The size in bytes of the file sent.",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    },
                    "ETag": {
                        "description": "The SHA-256 of the bytes sent, in quotes.",
                        "required": True,
                        "schema": {"type": "string", "pattern": '^"[0-9a-f]{64}"$'},
                    },
                },
            },
            "206": {
                "description": (
                    "One byte range of the same file, asked for with `Range: bytes=a-b` (and "
                    "`If-Range` with the ETag, to resume a download)."
                ),
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                "headers": {
                    "Content-Range": {
                        "description": "`bytes first-last/size`.",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^bytes [0-9]+-[0-9]+/[0-9]+$"},
                    },
                },
            },
            "403": DOWNLOAD_OFF_403,
            "416": {"description": "The range asked for starts past the end of the file."},
        }
    },
)
def version_content(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, number: int
) -> object:
    doc_access = _doc(request, workspace_id, document_id)
    download = services.version_download(
        actor=request.user, doc_access=doc_access, number=number, info=_info(request)
    )
    return version_file_response(
        request, download.version, document=doc_access.document, made=download.file
    )


@router.post(
    "/{workspace_id}/documents/{document_id}/versions/{number}/restore",
    response={201: VersionOut},
    openapi_extra=SEALED_409,
)
def version_restore(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, number: int
) -> object:
    doc_access = _doc(request, workspace_id, document_id)
    version = services.version_restore(
        actor=request.user, doc_access=doc_access, number=number, info=_info(request)
    )
    return Status(201, version_out(version))


# --- Trash -----------------------------------------------------------------------------------


def _trash_access(request: AuthedRequest, workspace_id: uuid.UUID) -> WorkspaceAccess:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    if not access.can("view_trash"):
        raise PermissionDenied("Only managers can see the trash.")
    return access


@router.get("/{workspace_id}/trash/folders", response=FolderPage)
def trash_folder_list(
    request: AuthedRequest, workspace_id: uuid.UUID, page: Query[PageIn]
) -> object:
    """The folders put in the trash (not those that went with a folder), last put there first.
    Managers only."""
    access = _trash_access(request, workspace_id)
    window = page_for(page, keyset=LAST_TRASHED_FIRST, scope=f"trash-folders:{workspace_id}")
    rows = window.window(folder_rows(trash_items(access=access)[0]))
    return window.respond(request, rows, folder_row_out)


@router.get("/{workspace_id}/trash/documents", response=DocumentPage)
def trash_document_list(
    request: AuthedRequest, workspace_id: uuid.UUID, page: Query[PageIn]
) -> object:
    """The documents put in the trash (not those that went with a folder), last put there
    first. Managers only."""
    access = _trash_access(request, workspace_id)
    window = page_for(page, keyset=LAST_TRASHED_FIRST, scope=f"trash-documents:{workspace_id}")
    rows = window.window(document_rows(trash_items(access=access)[1]))
    return window.respond(request, rows, lambda row: document_row_out(row, access))


@router.post("/{workspace_id}/trash/documents/{document_id}/restore", response=DocumentOut)
def trash_document_restore(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID
) -> object:
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id, include_trash=True
    )
    services.document_restore(
        actor=request.user,
        access=doc_access.access,
        document=doc_access.document,
        info=_info(request),
    )
    doc_access = _doc(request, workspace_id, document_id)
    return document_out(doc_access.document, doc_access.abilities)


@router.delete("/{workspace_id}/trash/documents/{document_id}", response={204: None})
def trash_document_purge(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID
) -> object:
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id, include_trash=True
    )
    services.document_purge(
        actor=request.user,
        access=doc_access.access,
        document=doc_access.document,
        info=_info(request),
    )
    return Status(204, None)


@router.post("/{workspace_id}/trash/folders/{folder_id}/restore", response=FolderOut)
def trash_folder_restore(
    request: AuthedRequest, workspace_id: uuid.UUID, folder_id: uuid.UUID
) -> object:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    folder = folder_get(access=access, folder_id=folder_id, include_trash=True)
    return folder_out(
        services.folder_restore(
            actor=request.user, access=access, folder=folder, info=_info(request)
        )
    )


@router.delete("/{workspace_id}/trash/folders/{folder_id}", response={204: None})
def trash_folder_purge(
    request: AuthedRequest, workspace_id: uuid.UUID, folder_id: uuid.UUID
) -> object:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    folder = folder_get(access=access, folder_id=folder_id, include_trash=True)
    services.folder_purge(actor=request.user, access=access, folder=folder, info=_info(request))
    return Status(204, None)


# --- Read receipts (decision 26) ---------------------------------------------------------------


class ReadingStartOut(Schema):
    # Sent back with the reading once the preview has been on screen long enough: it names the
    # person, the document, the version and when it was given, signed by the server.
    token: str
    seconds_needed: int
    rule: str


class ReadingIn(Schema):
    token: Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]
    # Seconds the preview was open and visible on the reader's screen (not in a background tab,
    # not scrolled away). At least `seconds_needed`, never more than have passed since the token
    # was given.
    visible_seconds: Annotated[int, Field(ge=0, le=10**6)]


class ReceiptOut(Schema):
    version: int
    read_at: datetime
    # What showed the version was read: its preview on screen, a download, an approval.
    read_by: Literal["preview", "download", "approval"]
    visible_seconds: int | None
    # False: the person had read this version already (a replay changes nothing).
    new: bool


class ReaderOut(Schema):
    email: str
    name: str
    role: str
    # Null for those who have not read it.
    read_at: datetime | None
    read_by: Literal["preview", "download", "approval"] | None


class ReminderOut(Schema):
    day: date
    version: int
    sent_by_email: str
    sent_at: datetime
    recipients: int


class ReadersOut(Schema):
    version: int
    members: int
    read_count: int
    # "6 of 9 members have read version 3".
    summary: str
    rule: str
    read: list[ReaderOut]
    unread: list[ReaderOut]
    # Today's reminder, if one was sent (at most one a day per document), else null.
    reminded_today: ReminderOut | None


class MyReadingOut(Schema):
    current_version: int
    # The newest version the person has read (null: none).
    last_read_version: int | None
    # They read an older version, and a newer one has come since.
    new_since_read: bool


def receipt_out(receipt: VersionRead, *, new: bool) -> dict[str, object]:
    return {
        "version": receipt.version.number,
        "read_at": receipt.read_at,
        "read_by": receipt.read_by,
        "visible_seconds": receipt.visible_seconds,
        "new": new,
    }


def reminder_out(reminder: ReadReminder) -> dict[str, object]:
    return {
        "day": reminder.day,
        "version": reminder.version_number,
        "sent_by_email": reminder.sent_by.email,
        "sent_at": reminder.sent_at,
        "recipients": reminder.recipients,
    }


def _reader_out(reader: Reader) -> dict[str, object]:
    return {
        "email": reader.person.email,
        "name": reader.person.display_name,
        "role": reader.role,
        "read_at": reader.read.read_at if reader.read else None,
        "read_by": reader.read.read_by if reader.read else None,
    }


@router.get(
    "/{workspace_id}/documents/{document_id}/versions/{number}/reading", response=ReadingStartOut
)
def reading_start(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, number: int
) -> object:
    """Start reading a version (a client showing its preview): the token to send back with
    `POST .../readings` once the preview has been on screen for `seconds_needed`."""
    doc_access = _doc(request, workspace_id, document_id)
    version = version_get(doc_access=doc_access, number=number)
    return {
        "token": reading_token(user=request.user, doc_access=doc_access, version=version),
        "seconds_needed": READING_SECONDS,
        "rule": READING_RULE,
    }


@router.post(
    "/{workspace_id}/documents/{document_id}/versions/{number}/readings",
    response={200: ReceiptOut, 201: ReceiptOut},
)
def reading_record(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    number: int,
    payload: ReadingIn,
) -> object:
    """The person read this version: its preview was on screen for `visible_seconds`. 201 with
    the new receipt; 200 when they had read it already (a replay changes nothing). A token of
    someone else's, of another version, too old, or more seconds than have passed since it was
    given: 400 with a sentence, and nothing recorded."""
    doc_access = _doc(request, workspace_id, document_id)
    receipt, new = services.version_read_record(
        actor=request.user,
        doc_access=doc_access,
        number=number,
        token=payload.token,
        visible_seconds=payload.visible_seconds,
        info=_info(request),
    )
    return Status(201 if new else 200, receipt_out(receipt, new=new))


@router.get("/{workspace_id}/documents/{document_id}/reading", response=MyReadingOut)
def reading_mine(request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID) -> object:
    """The newest version of this document the person has read, and whether a newer one has
    come since ("new since you last read it")."""
    doc = _doc(request, workspace_id, document_id).document
    last = last_read_numbers(user=request.user, documents=[doc]).get(doc.pk)
    return {
        "current_version": doc.current_version_number,
        "last_read_version": last,
        "new_since_read": last is not None and last < doc.current_version_number,
    }


@router.get("/{workspace_id}/documents/{document_id}/readers", response=ReadersOut)
def readers_list(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    version: int | None = None,
) -> object:
    """Who of the workspace's members has read a version (the latest unless `version` is
    given) and who has not. Managers and editors only (ability `see_readers`; 403 otherwise)."""
    readers = version_readers(doc_access=_doc(request, workspace_id, document_id), number=version)
    return {
        "version": readers.version.number,
        "members": readers.members,
        "read_count": len(readers.read),
        "summary": readers.sentence,
        "rule": READING_RULE,
        "read": [_reader_out(r) for r in readers.read],
        "unread": [_reader_out(r) for r in readers.unread],
        "reminded_today": reminder_out(readers.reminded_today) if readers.reminded_today else None,
    }


@router.post("/{workspace_id}/documents/{document_id}/readers/remind", response={201: ReminderOut})
def readers_remind(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID
) -> object:
    """Remind each member who has not read the latest version: a notification and an email
    each. Once a day at most per document: a second time the same day is 409 `reminded_today`
    and nothing is sent. Managers and editors only (ability `remind_readers`)."""
    reminder = services.document_readers_remind(
        actor=request.user,
        doc_access=_doc(request, workspace_id, document_id),
        info=_info(request),
    )
    return Status(201, reminder_out(reminder))
