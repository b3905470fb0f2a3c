"""Reading folders, documents and versions as a given person may see them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, TYPE_CHECKING, Any, cast

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.files.storage import default_storage
from django.core.paginator import Page, Paginator
from django.db import models
from django.db.models import (
    BigIntegerField,
    CharField,
    DateField,
    F,
    FilteredRelation,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    UUIDField,
)
from django.utils import timezone

from commonroom.accounts.selectors import person_name
from commonroom.core.exceptions import NotFound, PermissionDenied
from commonroom.core.pagination import AsRow, Row
from commonroom.core.prepared import (
    IExactText,
    Prepared,
    columns_of,
    instance_from,
    instances_from,
)
from commonroom.core.watermark import Watermark, watermark_for
from commonroom.documents import hooks
from commonroom.documents.models import Document, Folder, ReadReminder, Version, VersionRead
from commonroom.documents.models import blob_storage_name as blob_storage_name
from commonroom.documents.permissions import DocumentAbilities, DocumentAbility, document_abilities
from commonroom.workspaces.selectors import (
    WorkspaceAccess,
    current_members,
    parse_uuid,
    workspace_access,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from commonroom.accounts.models import User
    from commonroom.accounts.selectors import PersonRow


@dataclass(frozen=True)
class DocumentAccess:
    document: Document
    access: WorkspaceAccess
    abilities: DocumentAbilities

    def can(self, ability: DocumentAbility) -> bool:
        return self.abilities[ability]


def document_access(
    *,
    user: User | AnonymousUser,
    workspace_id: Any,
    document_id: Any,
    include_trash: bool = False,
) -> DocumentAccess:
    """A document of a workspace the user belongs to; trashed ones only for trash managers.
    Read with its folder, creator and sealed version by one statement built once per process
    (``_DOCUMENT``): cheaper than the ORM's read of the row alone."""
    access = workspace_access(user=user, workspace_id=workspace_id)
    doc = _document_in(workspace_id=access.workspace.pk, document_id=parse_uuid(document_id))
    if doc is None:
        raise NotFound()
    if doc.in_trash and not (include_trash and access.can("manage_trash")):
        raise NotFound()
    return DocumentAccess(doc, access, abilities_of(access, doc))


def _person_model() -> type[User]:
    """The people's model (accounts' ``User``), for the columns of a person a query follows."""
    return cast("type[User]", get_user_model())


def _document_related() -> dict[str, type[models.Model]]:
    """What a document's page and every operation on it read with it: its folder, its creator
    and its sealed version (each NULL when it has none), every column of each, by the prefix
    ``values()`` names their columns with."""
    return {"folder__": Folder, "created_by__": _person_model(), "sealed_version__": Version}


def _document(*, workspace_id: uuid.UUID, document_id: uuid.UUID) -> QuerySet[Document, Any]:
    """The document ``document_id`` of the workspace (one row at most), as
    ``Document.objects.select_related("folder", "created_by", "sealed_version")`` reads it."""
    return (
        Document.objects.filter(pk=document_id, workspace_id=workspace_id)
        .order_by("pk")
        .values_list(
            *columns_of(Document),
            *(
                column
                for prefix, model in _document_related().items()
                for column in columns_of(model, prefix)
            ),
        )
    )


# Asked by every document page and operation (:func:`document_access`): :func:`_document`, its
# SQL built once per process.
_DOCUMENT = Prepared(
    "documents.document", _document, workspace_id=UUIDField(), document_id=UUIDField()
)


def _document_in(*, workspace_id: uuid.UUID, document_id: uuid.UUID) -> Document | None:
    found = _DOCUMENT.window(limit=1, offset=0, workspace_id=workspace_id, document_id=document_id)
    if not found:
        return None
    row = found[0]
    doc = instance_from(Document, row)
    if doc is None:
        return None
    for prefix, model in _document_related().items():
        # What select_related keeps: the related object, or None for no row.
        setattr(doc, prefix[:-2], instance_from(model, row, prefix))
    return doc


def _named(
    *, workspace_id: uuid.UUID, document_name: str, folder_id: uuid.UUID | None = None
) -> QuerySet[Document, Any]:
    """The live documents of a folder (or the workspace's top level: ``folder_id`` None) named
    ``document_name`` whatever its case (one at most: names are unique so)."""
    return (
        Document.objects.filter(
            workspace_id=workspace_id,
            folder_id=folder_id,  # type: ignore[misc]  # None: the top level (IS NULL)
            deleted_at__isnull=True,
            name__iexact=document_name,
        )
        .order_by("pk")
        .values_list(*columns_of(Document))
    )


# Asked by every upload of a file under a name: :func:`_named`, its SQL built once per process
# (one for a folder, one for the top level, whose SQL says ``IS NULL``).
_NAMED_IN_FOLDER = Prepared(
    "documents.named_in_folder",
    _named,
    workspace_id=UUIDField(),
    folder_id=UUIDField(),
    document_name=IExactText(),
)
_NAMED_AT_TOP = Prepared(
    "documents.named_at_top",
    lambda **inputs: _named(**inputs),
    workspace_id=UUIDField(),
    document_name=IExactText(),
)


def live_document_named(*, workspace_id: Any, folder_id: Any, name: str) -> Document | None:
    """The live document of the folder (None: the top level) with ``name``, whatever its case,
    or None: what ``Document.objects.filter(..., name__iexact=name).first()`` reads."""
    if folder_id is None:
        found = _NAMED_AT_TOP.window(
            limit=1, offset=0, workspace_id=workspace_id, document_name=name
        )
    else:
        found = _NAMED_IN_FOLDER.window(
            limit=1, offset=0, workspace_id=workspace_id, folder_id=folder_id, document_name=name
        )
    return instance_from(Document, found[0]) if found else None


def _document_for_update(*, document_id: uuid.UUID) -> QuerySet[Document, Any]:
    """The document's row, locked until the transaction ends (one row at most)."""
    return (
        Document.objects.select_for_update()
        .filter(pk=document_id)
        .order_by("pk")
        .values_list(*columns_of(Document))
    )


# Read by every write about a document (each new version, comment...): its SQL built once.
_DOCUMENT_FOR_UPDATE = Prepared(
    "documents.document_for_update", _document_for_update, document_id=UUIDField()
)


def document_locked(document_id: Any) -> Document | None:
    """Inside a transaction: the document's row as it is, locked until the transaction ends
    (``Document.objects.select_for_update().filter(pk=...).first()``), or None."""
    found = _DOCUMENT_FOR_UPDATE.window(limit=1, offset=0, document_id=document_id)
    return instance_from(Document, found[0]) if found else None


def _same_bytes(*, document_id: uuid.UUID, blob_id: str) -> QuerySet[Version, Any]:
    """The first and the last of the document's versions with the bytes ``blob_id``."""
    return (
        Version.objects.filter(document_id=document_id, blob_id=blob_id)
        .values("document_id")
        .annotate(first=Min("number"), last=Max("number"))
        .order_by("document_id")
        .values_list("document_id", "first", "last")
    )


# Asked by every new version (the same as the latest? identical to which?): its SQL built once.
_SAME_BYTES = Prepared(
    "documents.same_bytes", _same_bytes, document_id=UUIDField(), blob_id=CharField()
)


def same_bytes_numbers(*, document_id: Any, blob_id: str) -> dict[str, int | None]:
    """``{"first": n, "last": m}``: the first and the last of the document's versions with
    these bytes (None and None: none has them), as ``.aggregate(first=Min, last=Max)`` says."""
    found = _SAME_BYTES.window(limit=1, offset=0, document_id=document_id, blob_id=blob_id)
    if not found:
        return {"first": None, "last": None}
    return {"first": found[0]["first"], "last": found[0]["last"]}


def abilities_of(access: WorkspaceAccess, doc: Document | Row) -> DocumentAbilities:
    """What the person may do with ``doc``, as it is now (in the trash, sealed): a document, or
    a row of :data:`DOCUMENT_COLUMNS` (the lists decide it for each row from its own state)."""
    row: Row = AsRow(doc) if isinstance(doc, Document) else doc
    return document_abilities(
        access,
        in_trash=row["deleted_at"] is not None,
        sealed=row["sealed_version_id"] is not None,
    )


def folder_get(*, access: WorkspaceAccess, folder_id: Any, include_trash: bool = False) -> Folder:
    folder = (
        Folder.objects.filter(pk=parse_uuid(folder_id), workspace_id=access.workspace.pk)
        .select_related("parent")
        .first()
    )
    # Like a trashed document, a trashed folder exists only for those who manage the trash.
    if folder is None or (folder.in_trash and not (include_trash and access.can("manage_trash"))):
        raise NotFound()
    return folder


def folder_path(folder: Folder | None) -> list[Folder]:
    """Breadcrumbs from the workspace root down to ``folder``."""
    path: list[Folder] = []
    seen: set[Any] = set()
    while folder is not None and folder.pk not in seen:
        seen.add(folder.pk)
        path.append(folder)
        folder = folder.parent
    return list(reversed(path))


def edit_locks(
    *, access: WorkspaceAccess, documents: Sequence[hooks.PlacedDocument]
) -> dict[uuid.UUID, hooks.EditLock]:
    """Which of ``documents`` (in ``access``'s workspace, which the person is a member of) are
    held open for editing in another program, with who holds each, in which program, since
    when (``hooks.edit_locks``: WebDAV's locks)."""
    return hooks.edit_locks.of(access, list(documents))


def folder_children(*, access: WorkspaceAccess, folder: Folder | None) -> QuerySet[Folder]:
    return _children(workspace_id=access.workspace.pk, folder_id=folder.pk if folder else None)


def _children(*, workspace_id: Any, folder_id: Any) -> QuerySet[Folder]:
    """:func:`folder_children` by the workspace's and the folder's ids (None: the top level)."""
    return Folder.objects.filter(
        workspace_id=workspace_id, parent_id=folder_id, deleted_at__isnull=True
    ).order_by("name")


def _child_names(*, workspace_id: uuid.UUID, folder_id: uuid.UUID) -> QuerySet[Folder, tuple[str]]:
    return _children(workspace_id=workspace_id, folder_id=folder_id).values_list("name")


def _top_level_names(*, workspace_id: uuid.UUID) -> QuerySet[Folder, tuple[str]]:
    return _children(workspace_id=workspace_id, folder_id=None).values_list("name")


# Asked by every document page (WebDAV's name for it: the folders beside it), its SQL built once
# per process: one for a folder's children, one for the top level (``parent IS NULL`` is
# another query).
_CHILD_NAMES = Prepared(
    "documents.child_names", _child_names, workspace_id=UUIDField(), folder_id=UUIDField()
)
_TOP_LEVEL_NAMES = Prepared("documents.top_level_names", _top_level_names, workspace_id=UUIDField())


def folder_child_names(*, access: WorkspaceAccess, folder_id: Any) -> list[str]:
    """The names of :func:`folder_children` (``folder_id`` None: the top level's), in their
    order: what ``[f.name for f in folder_children(...)]`` reads, with SQL built once per
    process."""
    if folder_id is None:
        rows = _TOP_LEVEL_NAMES.tuples(workspace_id=access.workspace.pk)
    else:
        rows = _CHILD_NAMES.tuples(workspace_id=access.workspace.pk, folder_id=folder_id)
    return [row[0] for row in rows]


def latest_version_prefetch() -> Prefetch:
    """Each document's latest version (with its author) as ``latest_versions``, in one query
    for any number of documents, however many versions each has."""
    return Prefetch(
        "versions",
        queryset=Version.objects.filter(
            number=F("document__current_version_number")
        ).select_related("author", "while_locked_by"),
        to_attr="latest_versions",
    )


def folder_documents(*, access: WorkspaceAccess, folder: Folder | None) -> QuerySet[Document]:
    """The live documents of one folder, each with its latest version (read by
    :func:`latest_version`: WebDAV's folder listing and its look-ups by name) and its sealed
    version (a refusal names it). The API reads them as rows (:func:`document_rows`)."""
    return (
        Document.objects.filter(
            workspace_id=access.workspace.pk, folder=folder, deleted_at__isnull=True
        )
        .select_related("sealed_version")
        .prefetch_related(latest_version_prefetch())
        .order_by("name", "pk")
    )


# What the API shows of a version (``documents.api.version_out``), as columns of ``values()``:
# a list of a hundred read as rows, without building a model instance for each version, its
# author and whoever held the document open.
VERSION_COLUMNS = (
    "number",
    "filename",
    "content_type",
    "size",
    "blob_id",
    "author__email",
    "created_at",
    "note",
    "based_on_number",
    "based_on_latest",
    "based_on_from_file",
    "identical_to_number",
    "restored_from_number",
    "record_at",
    "while_locked_by_id",
    "while_locked_by__email",
    "while_locked_by__full_name",
    "while_locked_in",
    "while_locked_since",
)
# And of a document (``documents.api.document_out``), its latest version's under ``latest__``.
DOCUMENT_COLUMNS = (
    "id",
    "name",
    "folder_id",
    "current_version_number",
    "created_at",
    "updated_at",
    "deleted_at",
    "sealed_version_id",
    "sealed_version__number",
    *(f"latest__{column}" for column in VERSION_COLUMNS),
)


# What the API shows of a folder (``documents.api.folder_out``), as columns of ``values()``.
FOLDER_COLUMNS = ("id", "name", "parent_id", "created_at", "deleted_at")


def folder_rows(folders: QuerySet[Folder]) -> QuerySet[Folder, dict[str, Any]]:
    """``folders`` (:func:`folder_children`, or the trash's) as rows of :data:`FOLDER_COLUMNS`."""
    return folders.select_related(None).values(*FOLDER_COLUMNS)


def document_rows(documents: QuerySet[Document]) -> QuerySet[Document, dict[str, Any]]:
    """``documents`` (the queryset of one of the selectors above, which decide which documents
    the person may see) as rows of :data:`DOCUMENT_COLUMNS`: each document with its latest
    version and that version's author joined in the same query (a left join, so a document
    without one still comes, its ``latest__`` columns null)."""
    latest = FilteredRelation("versions", condition=Q(versions__number=F("current_version_number")))
    return (
        documents.select_related(None)
        .prefetch_related(None)
        .annotate(latest=latest)
        .values(*DOCUMENT_COLUMNS)
    )


def version_rows(versions: QuerySet[Version]) -> QuerySet[Version, dict[str, Any]]:
    """``versions`` (:func:`document_versions`) as rows of :data:`VERSION_COLUMNS`."""
    return versions.select_related(None).values(*VERSION_COLUMNS)


def _listed(*, workspace_id: uuid.UUID, folder_id: uuid.UUID | None) -> QuerySet[Document]:
    """The documents a folder's page lists (the workspace's top level for ``folder_id`` None):
    live, in that folder."""
    return Document.objects.filter(
        Q(folder_id=folder_id), workspace_id=workspace_id, deleted_at__isnull=True
    )


# How many documents a folder's page lists ("Documents 1 to 100 of 10,000"), asked on every
# page of a listing: :func:`_listed`, its SQL built once per process (a folder's and the top
# level's differ: ``= %s`` and ``IS NULL``).
_LISTED_COUNT = Prepared(
    "documents.listed_count", _listed, workspace_id=UUIDField(), folder_id=UUIDField()
)
_TOP_LEVEL_COUNT = Prepared(
    "documents.top_level_count",
    lambda workspace_id: _listed(workspace_id=workspace_id, folder_id=None),
    workspace_id=UUIDField(),
)


def listed_count(*, access: WorkspaceAccess, folder: Folder | None) -> int:
    """How many documents :func:`folder_listing` has."""
    if folder is None:
        return _TOP_LEVEL_COUNT.count(workspace_id=access.workspace.pk)
    return _LISTED_COUNT.count(workspace_id=access.workspace.pk, folder_id=folder.pk)


class _CountedPaginator(Paginator):
    """A paginator told its rows' count instead of asking the rows for it."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self.__dict__["count"] = count  # Paginator.count is a cached_property


@dataclass(frozen=True, slots=True)
class ListedVersion:
    """What a folder's page shows of a document's latest version."""

    size: int
    based_on_latest: bool  # False: it crossed another version (a "Crossed amendment")
    author_name: str


@dataclass(slots=True, eq=False)
class ListedDocument:
    """A document as a folder's page lists it to a reader, with its latest version and whether
    it is new to them; the page adds who holds it open elsewhere."""

    pk: uuid.UUID
    name: str
    folder_id: uuid.UUID | None
    folder: Folder | None
    current_version_number: int
    updated_at: datetime
    sealed_version_id: int | None
    latest: ListedVersion | None
    edit_lock: hooks.EditLock | None = None
    new_since_read: bool = False


def newest_read_number(reader: User | int, document_ref: str) -> Subquery:
    """The newest version number of the document at ``document_ref`` (the outer query's) that
    ``reader`` has read, or NULL (:func:`last_read_numbers`' figure, for one row of a larger
    read)."""
    return Subquery(
        VersionRead.objects.filter(reader=reader, document_id=OuterRef(document_ref))
        .order_by()
        .values("document_id")
        .annotate(newest=Max("version__number"))
        .values("newest")
    )


# What a folder's page shows of each document, as columns of ``values_list()``: the document,
# its latest version (``latest__``: the version whose number is the document's current one,
# joined in the same query, with its author) and the newest version the reader read of it.
LISTING_COLUMNS = (
    "id",
    "name",
    "folder_id",
    "current_version_number",
    "updated_at",
    "sealed_version_id",
    "latest__id",
    "latest__size",
    "latest__based_on_latest",
    "latest__author__full_name",
    "latest__author__email",
    "newest_read",
)


def _listing(
    *, workspace_id: uuid.UUID, folder_id: uuid.UUID | None, reader_id: int
) -> QuerySet[Document, Any]:
    latest = FilteredRelation("versions", condition=Q(versions__number=F("current_version_number")))
    return (
        _listed(workspace_id=workspace_id, folder_id=folder_id)
        .annotate(latest=latest, newest_read=newest_read_number(reader_id, "id"))
        .order_by("name", "pk")
        .values_list(*LISTING_COLUMNS, named=True)
    )


def folder_listing(
    *, access: WorkspaceAccess, folder: Folder | None, reader: User
) -> QuerySet[Document, Any]:
    """The live documents of one folder in their listed order, each only as a folder's page
    lists it to ``reader`` (:data:`LISTING_COLUMNS`: its id, name, place, version number, when
    it changed, whether it is a final record; its latest version's size, crossing and author;
    the newest version ``reader`` read of it), as rows with those names: a page of them read
    from the listing's index, one query, without the columns or the objects the page does not
    need."""
    folder_id = folder.pk if folder else None
    return _listing(workspace_id=access.workspace.pk, folder_id=folder_id, reader_id=reader.pk)


# A page of a folder's listing, asked on every one of its pages: :func:`_listing`, its SQL built
# once per process (a folder's and the top level's differ: ``= %s`` and ``IS NULL``).
_LISTING_WINDOW = Prepared(
    "documents.listing",
    _listing,
    workspace_id=UUIDField(),
    folder_id=UUIDField(),
    reader_id=BigIntegerField(),
)
_TOP_LEVEL_WINDOW = Prepared(
    "documents.top_level_listing",
    lambda workspace_id, reader_id: _listing(
        workspace_id=workspace_id, folder_id=None, reader_id=reader_id
    ),
    workspace_id=UUIDField(),
    reader_id=BigIntegerField(),
)


def _listed_document(row: dict[str, Any], folder: Folder | None) -> ListedDocument:
    """One of :func:`folder_listing`'s rows (of ``folder``) as :class:`ListedDocument`: "New
    since you last read it" when its current version is newer than the newest its reader
    read of it."""
    version = None
    if row["latest__id"] is not None:
        name = person_name(row["latest__author__full_name"], row["latest__author__email"])
        version = ListedVersion(row["latest__size"], row["latest__based_on_latest"], name)
    newest_read, current = row["newest_read"], row["current_version_number"]
    return ListedDocument(
        pk=row["id"],
        name=row["name"],
        folder_id=row["folder_id"],
        folder=folder,
        current_version_number=current,
        updated_at=row["updated_at"],
        sealed_version_id=row["sealed_version_id"],
        latest=version,
        new_since_read=newest_read is not None and newest_read < current,
    )


class _ListingWindows:
    """A folder's listing for a paginator: each page read by its prepared query, whose count
    the paginator is told (:func:`listed_count`)."""

    def __init__(self, access: WorkspaceAccess, folder: Folder | None, reader: User) -> None:
        self.access, self.folder, self.reader = access, folder, reader

    def __getitem__(self, window: slice) -> list[ListedDocument]:
        start, stop = int(window.start or 0), int(window.stop)
        if stop <= start:  # an empty folder's one page
            return []
        workspace_id, reader_id = self.access.workspace.pk, self.reader.pk
        if self.folder is None:
            rows = _TOP_LEVEL_WINDOW.window(
                limit=stop - start, offset=start, workspace_id=workspace_id, reader_id=reader_id
            )
        else:
            rows = _LISTING_WINDOW.window(
                limit=stop - start,
                offset=start,
                workspace_id=workspace_id,
                folder_id=self.folder.pk,
                reader_id=reader_id,
            )
        return [_listed_document(row, self.folder) for row in rows]


def folder_listing_page(
    *, access: WorkspaceAccess, folder: Folder | None, reader: User, number: Any, per_page: int
) -> Page[ListedDocument]:
    """Page ``number`` (the last for one past the end, the first for anything not a number)
    of ``folder``'s documents as its page lists them to ``reader`` (:func:`folder_listing`):
    two statements, the count and the page."""
    paginator = _CountedPaginator(
        _ListingWindows(access, folder, reader),
        per_page,
        count=listed_count(access=access, folder=folder),
    )
    return paginator.get_page(number)


def latest_version(document: Document) -> Version | None:
    prefetched = getattr(document, "latest_versions", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return document.versions.order_by("-number").first()


def folder_child_named(
    *, access: WorkspaceAccess, parent: Folder | None, name: str
) -> Folder | None:
    """The live folder called ``name`` (whatever the case) in ``parent``, or None."""
    return (
        Folder.objects.filter(
            workspace_id=access.workspace.pk, parent=parent, deleted_at__isnull=True
        )
        .filter(name__iexact=name)
        .order_by("created_at", "pk")
        .first()
    )


def folder_document_named(
    *, access: WorkspaceAccess, folder: Folder | None, name: str
) -> Document | None:
    """The live document called ``name`` (whatever the case) in ``folder``, with its latest
    version, or None."""
    return (
        folder_documents(access=access, folder=folder)
        .filter(name__iexact=name)
        .order_by("created_at", "pk")
        .first()
    )


def document_trashed_by(
    *, access: WorkspaceAccess, folder: Folder | None, name: str, actor: User, since: Any
) -> Document | None:
    """The document called ``name`` in ``folder`` that ``actor`` put in the trash on its own
    (not with a folder) at or after ``since``, the latest such, or None."""
    return (
        Document.objects.filter(
            workspace_id=access.workspace.pk,
            folder=folder,
            name__iexact=name,
            deleted_by=actor,
            deleted_at__gte=since,
            trashed_with__isnull=True,
        )
        .order_by("-deleted_at")
        .first()
    )


PDF_TYPE = "application/pdf"


def download_watermark(
    *, doc_access: DocumentAccess, reader: User, version: Version
) -> Watermark | None:
    """The watermark stamped on every page of ``reader``'s download of ``version``, or None:
    an external guest's PDF, where the workspace watermarks guests' downloads
    (``Workspace.watermark_guest_downloads``). The one rule, asked by pages, the API and WebDAV
    alike (``documents/pdf_stamp.py`` stamps it)."""
    if not (reader.is_guest and doc_access.access.workspace.watermark_guest_downloads):
        return None
    if version.content_type != PDF_TYPE:
        return None
    return watermark_for(reader)


def version_file_open(version: Version) -> IO[bytes]:
    """The bytes stored for ``version`` (its blob), open for reading; the caller closes it.
    Not the stamped copy a download sends (``stamping.download_file``)."""
    return blob_file_open(version.blob_id)


def blob_file_open(sha256: str) -> IO[bytes]:
    """The stored file of blob ``sha256``, open for reading (``FileNotFoundError`` once the
    collector has removed it); the caller closes it."""
    return default_storage.open(blob_storage_name(sha256), "rb")


def document_versions(*, doc_access: DocumentAccess) -> QuerySet[Version]:
    return doc_access.document.versions.select_related("author", "while_locked_by").order_by(
        "-number"
    )


def _versions(*, document_id: uuid.UUID) -> QuerySet[Version, Any]:
    """:func:`document_versions`' rows: every column of each version, its author's and (NULL
    when none) the person whose lock it was saved under."""
    return (
        Version.objects.filter(document_id=document_id)
        .order_by("-number")
        .values_list(
            *columns_of(Version),
            *columns_of(_person_model(), "author__"),
            *columns_of(_person_model(), "while_locked_by__"),
        )
    )


# Asked by every document page: :func:`_versions`, its SQL built once per process.
_VERSIONS = Prepared("documents.versions", _versions, document_id=UUIDField())


def document_version_list(*, doc_access: DocumentAccess) -> list[Version]:
    """What ``list(document_versions(doc_access=...))`` reads (newest first, with their authors
    and lock holders), read with SQL built once per process: the document page's list."""
    person = _person_model()
    versions = []
    # A document's versions are written by a few people: each made once, as an object the
    # versions share (the page reads them, nothing writes them).
    people: dict[Any, Any] = {None: None}  # by id (no lock holder: None)
    version_end = len(columns_of(Version))
    person_end = version_end + len(columns_of(person))
    person_pk = [f.primary_key for f in person._meta.concrete_fields].index(True)

    def made(part: tuple[Any, ...]) -> Any:
        pk = part[person_pk]
        if pk not in people:
            people[pk] = instances_from(part, person)[0]
        return people[pk]

    for row in _VERSIONS.tuples(document_id=doc_access.document.pk):
        version = cast(Version, instances_from(row[:version_end], Version)[0])  # never None
        author, locker = made(row[version_end:person_end]), made(row[person_end:])
        version.author = cast("User", author)
        version.while_locked_by = cast("User | None", locker)
        versions.append(version)
    return versions


def version_get(*, doc_access: DocumentAccess, number: Any) -> Version:
    try:
        n = int(number)
    except (TypeError, ValueError):
        raise NotFound() from None
    version = doc_access.document.versions.select_related("author", "blob").filter(number=n).first()
    if version is None:
        raise NotFound()
    return version


def _live_folders(*, workspace_id: uuid.UUID) -> QuerySet[Folder, Any]:
    """Every live folder of the workspace, every column, in the folders' own order (by name)."""
    return Folder.objects.filter(workspace_id=workspace_id, deleted_at__isnull=True).values_list(
        *columns_of(Folder)
    )


# Asked by the document page of whoever may move it (:func:`all_folders`): its SQL built once
# per process.
_LIVE_FOLDERS = Prepared("documents.live_folders", _live_folders, workspace_id=UUIDField())


def all_folders(*, access: WorkspaceAccess) -> list[tuple[Folder, str]]:
    """Every live folder with its full path, for "move to" choices."""
    folders = [
        cast(Folder, instances_from(row, Folder)[0])  # never None: its primary key is NOT NULL
        for row in _LIVE_FOLDERS.tuples(workspace_id=access.workspace.pk)
    ]
    by_id = {f.pk: f for f in folders}

    def label(f: Folder) -> str:
        parts, seen = [], set()
        node: Folder | None = f
        while node is not None and node.pk not in seen:
            seen.add(node.pk)
            parts.append(node.name)
            node = by_id.get(node.parent_id) if node.parent_id else None
        return " / ".join(reversed(parts))

    return sorted(((f, label(f)) for f in folders), key=lambda p: p[1].lower())


def trash_items(*, access: WorkspaceAccess) -> tuple[QuerySet[Folder], QuerySet[Document]]:
    """What was put in the trash directly (not what went with a folder), newest first, each
    with who put it there (the trash page shows name, when and by whom; the API reads them as
    rows, :func:`folder_rows` and :func:`document_rows`)."""
    if not access.can("view_trash"):
        return Folder.objects.none(), Document.objects.none()
    ws = access.workspace.pk
    folders = Folder.objects.filter(
        workspace_id=ws, deleted_at__isnull=False, trashed_with__isnull=True
    ).select_related("deleted_by")
    docs = Document.objects.filter(
        workspace_id=ws, deleted_at__isnull=False, trashed_with__isnull=True
    ).select_related("deleted_by")
    return folders.order_by("-deleted_at"), docs.order_by("-deleted_at")


def every_version_file() -> Iterator[tuple[Any, int, str, int]]:
    """Every version's document id, number, file (blob sha256) and size, by document then
    number, read in chunks (for a check of the files in storage, never as a member)."""
    return (
        Version.objects.order_by("document_id", "number")
        .values_list("document_id", "number", "blob_id", "size")
        .iterator(chunk_size=2000)
    )


# --- Read receipts (decision 26) ---------------------------------------------------------------

# A version counts as read once its preview has been open and visible on the reader's screen
# for this many seconds (a tab in the background, or the preview scrolled away, does not count),
# or once it is downloaded or approved. Said on the page in these words:
READING_SECONDS = 5
READING_RULE = (
    f"A version counts as read once its preview has been on screen for {READING_SECONDS} "
    "seconds (not in a background tab, not scrolled out of sight), or once it is downloaded "
    "or approved."
)
# How long a page's reading token counts: a page left open longer is reloaded to count.
READING_TOKEN_HOURS = 12
READING_SALT = "commonroom.documents.reading"


def reading_token(*, user: User, doc_access: DocumentAccess, version: Version) -> str:
    """What a page (or an API client) showing ``version``'s preview to ``user`` sends back with
    its reading: signed, naming the person, the document, the version and when it was served,
    so the server can tell a forged or implausible reading (``services.version_read_record``)."""
    return signing.dumps(
        {
            "r": user.pk,
            "d": str(doc_access.document.pk),
            "v": version.number,
            "t": timezone.now().timestamp(),
        },
        salt=READING_SALT,
        compress=True,
    )


@dataclass(frozen=True)
class Reader:
    """A member and whether (and when, and how) they read the version."""

    person: User | PersonRow
    role: str
    read: VersionRead | None


@dataclass(frozen=True)
class Readers:
    """Who of the workspace's members has read ``version`` and who has not."""

    version: Version
    read: list[Reader]
    unread: list[Reader]
    reminded_today: ReadReminder | None

    @property
    def members(self) -> int:
        return len(self.read) + len(self.unread)

    @property
    def sentence(self) -> str:
        return f"{len(self.read)} of {self.members} members have read version {self.version.number}"


def readers_refusal(doc_access: DocumentAccess) -> None:
    """Refuse unless the person may see who has read the document (managers and editors:
    ``see_readers``). A member who may not gets a sentence; a non-member never got this far."""
    if not doc_access.can("see_readers"):
        raise PermissionDenied("Only managers and editors can see who has read a document.")


def version_readers(
    *, doc_access: DocumentAccess, number: Any = None, versions: Sequence[Version] = ()
) -> Readers:
    """Who has read version ``number`` (the latest when None) of the document and who has not:
    the workspace's members now, each reader with their receipt, by name. For managers and
    editors only (``see_readers``). ``versions``: the document's, read for the page a moment
    ago (not read again when the version is among them)."""
    readers_refusal(doc_access)
    doc = doc_access.document
    wanted = doc.current_version_number if number is None else number
    version = next((v for v in versions if str(v.number) == str(wanted)), None)
    if version is None:
        version = version_get(doc_access=doc_access, number=wanted)
    receipts = {
        receipt.reader_id: receipt
        for receipt in (
            cast(VersionRead, instance_from(VersionRead, row))
            for row in _RECEIPTS.rows(version_id=version.pk)
        )
    }
    read: list[Reader] = []
    unread: list[Reader] = []
    for m in current_members(access=doc_access.access):
        receipt = receipts.get(m.user_id)
        (read if receipt else unread).append(Reader(m.user, m.role, receipt))
    read.sort(key=lambda r: r.read.read_at if r.read else timezone.now())
    return Readers(version, read, unread, reminder_today(document=doc))


def _receipts(*, version_id: int) -> QuerySet[VersionRead, Any]:
    """Every read receipt of the version, every column."""
    return (
        VersionRead.objects.filter(version_id=version_id)
        .order_by("pk")
        .values_list(*columns_of(VersionRead))
    )


# Read by the document page for those who may see its readers: SQL built once per process.
_RECEIPTS = Prepared("documents.receipts", _receipts, version_id=BigIntegerField())


def _reminder(*, document_id: uuid.UUID, day: date) -> QuerySet[ReadReminder, Any]:
    """The document's reminder of ``day`` (one at most), with who sent it."""
    return (
        ReadReminder.objects.filter(document_id=document_id, day=day)
        .order_by("pk")
        .values_list(*columns_of(ReadReminder), *columns_of(_person_model(), "sent_by__"))
    )


_REMINDER = Prepared("documents.reminder", _reminder, document_id=UUIDField(), day=DateField())


def reminder_today(*, document: Document) -> ReadReminder | None:
    """Today's reminder to read ``document`` (the installation's local date), or None: what
    ``ReadReminder.objects.filter(...).select_related("sent_by").first()`` reads, with SQL
    built once per process."""
    found = _REMINDER.window(limit=1, offset=0, document_id=document.pk, day=timezone.localdate())
    if not found:
        return None
    reminder = cast(ReadReminder, instance_from(ReadReminder, found[0]))
    reminder.sent_by = cast("User", instance_from(_person_model(), found[0], "sent_by__"))
    return reminder


def _newest_reads(receipts: QuerySet[VersionRead]) -> QuerySet[VersionRead, Any]:
    """For each document among ``receipts``, the newest version number read."""
    return (
        receipts.order_by("document_id")
        .values("document_id")
        .annotate(newest=Max("version__number"))
        .values_list("document_id", "newest")
    )


def _newest_read(*, reader_id: int, document_id: uuid.UUID) -> QuerySet[VersionRead, Any]:
    return _newest_reads(VersionRead.objects.filter(reader_id=reader_id, document_id=document_id))


# Asked by every document page (one document): :func:`_newest_read`, SQL built once per process.
_NEWEST_READ = Prepared(
    "documents.newest_read", _newest_read, reader_id=BigIntegerField(), document_id=UUIDField()
)


def last_read_numbers(
    *, user: User, documents: Sequence[hooks.PlacedDocument]
) -> dict[uuid.UUID, int]:
    """For each of ``documents`` that ``user`` has read a version of, the newest version they
    read (one query for any number of documents; for one, SQL built once per process). "New
    since you last read it" is a document whose current version is newer than that."""
    if len(documents) == 1:
        rows = _NEWEST_READ.rows(reader_id=user.pk, document_id=documents[0].pk)
        return {row["document_id"]: row["newest"] for row in rows}
    return dict(
        _newest_reads(
            VersionRead.objects.filter(reader=user, document__in=[d.pk for d in documents])
        )
    )


# --- For other apps' own reads (never as a member: each narrows them to what its reader may see)


def document_blob_ids(document_id: Any) -> QuerySet[Version, Any]:
    """The blobs of the document's versions, as a subquery (``blob_id__in=``)."""
    return Version.objects.filter(document_id=document_id).values("blob_id")


def live_documents() -> QuerySet[Document]:
    """Every document not in the trash, for another app to narrow in the same query (to a
    workspace, to the workspaces a person belongs to, to one id)."""
    return Document.objects.filter(deleted_at__isnull=True)


def document_find(pk: Any) -> Document | None:
    """The document with this id, in the trash or not, or None once it is purged."""
    return Document.objects.filter(pk=pk).first()


def live_documents_with_file(sha256: str) -> QuerySet[Document]:
    """The documents not in the trash with a version (any of them) whose file is ``sha256``."""
    return live_documents().filter(
        pk__in=Version.objects.filter(blob_id=sha256).values("document_id")
    )


def latest_versions_with_file(sha256: str) -> QuerySet[Version]:
    """Each document not in the trash whose latest version's file is ``sha256``: that version,
    with its document (one query)."""
    return Version.objects.filter(
        blob_id=sha256,
        number=F("document__current_version_number"),
        document__deleted_at__isnull=True,
    ).select_related("document")


def newest_version_with_file(sha256: str) -> Version | None:
    """The version most recently added with the file ``sha256`` (for its file name and type),
    or None once every version with it is purged."""
    return Version.objects.filter(blob_id=sha256).order_by("-created_at").first()


def version_by_number(document_id: Any, number: int) -> Version | None:
    """System level, for the operator's commands (``record verify``), not for a person: version
    ``number`` of document ``document_id`` (trashed or not) with its blob, or ``None``."""
    try:
        pk = parse_uuid(document_id)
    except NotFound:
        return None
    return (
        Version.objects.select_related("blob", "document")
        .filter(document_id=pk, number=number)
        .first()
    )
