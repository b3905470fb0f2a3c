"""Where other apps plug into documents, without documents knowing them.

**Changes.** Every service that changes a document, a version, a folder or the blobs tells
:func:`changed` what it did, as one of the frozen change types below, *inside its transaction*
and after the change is written. Each subscriber runs there too, in the order it subscribed:
what it writes commits or rolls back with the change, and an error in it undoes the change (so
a search index, a notification or a live event exists exactly when its change does). Anything
that must happen only once the change is committed (enqueueing a task, telling a socket) is the
subscriber's own ``transaction.on_commit``. Subscribers are registered from their app's
``AppConfig.ready()`` with :func:`subscribe`; they must not depend on each other's order. (The
machinery is ``core.hooks``, which every followed app's ``hooks.py`` uses.)

**The document page.** A document's page shows what other apps keep about it (its preview, its
comments, whether the reader follows it). Each such app adds a :data:`PagePart` with
:func:`add_page_part`, which returns the template context it contributes (and may note the visit,
as "seen since"); the page view asks :func:`page_context` for all of them.

**Documents open in another program.** A document can be held open for editing elsewhere: Word
or LibreOffice holding a WebDAV lock on it. Which ones, and breaking such a lock, are known to
the app that keeps those locks, which adds a :class:`LockKeeper` to :data:`edit_locks`
(webdav's ``receivers.py``). Documents asks it for its pages ("being edited in Word by Tom
since 10:02"), for a new version (kept, and flagged as made while someone else had the
document open) and for a manager's breaking of a stale lock (``services.document_lock_break``).

So documents imports none of the apps that follow its changes, decorate its page or keep its
locks; they import documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from django.utils.translation import get_language

from commonroom.core.hooks import Hook, PageParts
from commonroom.core.hooks import OutsideTransaction as OutsideTransaction  # changed() raises it
from commonroom.documents.models import Document, Folder, Version

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.documents.selectors import DocumentAccess
    from commonroom.workspaces.selectors import WorkspaceAccess

# --- Changes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionAdded:
    """A version was added: an upload (the first makes the document), or an old version
    restored as the newest (``version.restored_from_number``)."""

    actor: User
    document: Document
    version: Version
    document_created: bool


@dataclass(frozen=True)
class DocumentRenamed:
    actor: User
    document: Document
    old_name: str


@dataclass(frozen=True)
class DocumentMoved:
    actor: User
    document: Document
    from_folder_id: uuid.UUID | None


@dataclass(frozen=True)
class DocumentTrashed:
    """Moved to the trash on its own (a folder's documents go with :class:`FolderTrashed`)."""

    actor: User
    document: Document


@dataclass(frozen=True)
class DocumentRestored:
    """Back from the trash (possibly at the top level, possibly under a new name)."""

    actor: User
    document: Document


@dataclass(frozen=True)
class DocumentSealed:
    """``version`` (the latest) became the document's final record: the document is sealed."""

    actor: User
    document: Document
    version: Version


@dataclass(frozen=True)
class DocumentReopened:
    """A manager reopened a sealed document; ``version`` stays a final record."""

    actor: User
    document: Document
    version: Version


@dataclass(frozen=True)
class DocumentPurged:
    """Removed for good with its versions: the row is gone, so only its facts are left."""

    actor: User
    workspace_id: uuid.UUID
    document_id: uuid.UUID
    folder_id: uuid.UUID | None
    name: str


@dataclass(frozen=True)
class FolderCreated:
    actor: User
    folder: Folder


@dataclass(frozen=True)
class FolderRenamed:
    actor: User
    folder: Folder
    old_name: str


@dataclass(frozen=True)
class FolderMoved:
    actor: User
    folder: Folder
    from_parent_id: uuid.UUID | None


@dataclass(frozen=True)
class FolderTrashed:
    """A folder moved to the trash with everything in it; ``documents`` are those it took
    (documents already in the trash are not among them)."""

    actor: User
    folder: Folder
    documents: tuple[Document, ...]


@dataclass(frozen=True)
class FolderRestored:
    """A folder back from the trash with what it took (``documents``)."""

    actor: User
    folder: Folder
    documents: tuple[Document, ...]


@dataclass(frozen=True)
class FolderPurged:
    """Removed for good (its documents each had a :class:`DocumentPurged` first)."""

    actor: User
    workspace_id: uuid.UUID
    folder_id: uuid.UUID
    parent_id: uuid.UUID | None
    name: str


@dataclass(frozen=True)
class EditLocksChanged:
    """An edit lock in this workspace was taken or ended (released, broken by a manager, or
    expired and swept): pages showing who holds what ask again. A lock may hold one document
    or a whole folder, so the change names only the workspace. ``actor_id`` is the lock's
    holder, taking or releasing it; None otherwise (a manager broke it: their own audit event
    says who; it expired and was swept)."""

    actor_id: int | None
    workspace_id: uuid.UUID


@dataclass(frozen=True)
class ReadersReminded:
    """Those who had not read ``version`` (the latest) were reminded to, by ``actor``: once a
    day at most per document (``services.document_readers_remind``)."""

    actor: User
    document: Document
    version: Version
    user_ids: tuple[int, ...]


@dataclass(frozen=True)
class BlobsCollected:
    """The collector is removing these blobs (no version uses them). Sent while it holds their
    row locks, before their files and rows go."""

    shas: tuple[str, ...]


Change = (
    VersionAdded
    | DocumentRenamed
    | DocumentMoved
    | DocumentTrashed
    | DocumentRestored
    | DocumentSealed
    | DocumentReopened
    | DocumentPurged
    | FolderCreated
    | FolderRenamed
    | FolderMoved
    | FolderTrashed
    | FolderRestored
    | FolderPurged
    | EditLocksChanged
    | ReadersReminded
    | BlobsCollected
)
hook: Hook[Change] = Hook("documents")
subscribe = hook.subscribe
unsubscribe = hook.unsubscribe
subscribed = hook.subscribed
changed = hook.changed


# --- The document page -----------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentPage:
    """A document's page being drawn for ``user``: ``versions`` newest first."""

    user: User
    doc_access: DocumentAccess
    versions: list[Version]

    def reader_key(self, revision: int, *more: Any) -> tuple[Any, ...]:
        """What a section kept for this reader depends on (``core.fragments``): the document,
        the workspace's newest live event (``revision``, which the caller reads), its latest
        version's number, the reader, both sets of what they may do and the language; then
        what the section adds (``more``)."""
        doc_access = self.doc_access
        return (
            doc_access.document.pk,
            revision,
            doc_access.document.current_version_number,
            self.user.pk,
            sorted(doc_access.abilities.items()),
            sorted(doc_access.access.abilities.items()),
            get_language(),
            *more,
        )


PagePart = Callable[[DocumentPage], Mapping[str, Any]]
page_parts: PageParts[DocumentPage] = PageParts()
add_page_part = page_parts.add
page_context = page_parts.context


# --- Documents open in another program -----------------------------------------------------------


@dataclass(frozen=True)
class EditLock:
    """A document held open for editing in another program by ``holder`` since ``since``:
    ``app`` is the program's name as it told it ("Word", "LibreOffice"), "" when it did not."""

    holder: User
    app: str
    since: datetime


class PlacedDocument(Protocol):
    """A document as much as a keeper of edit locks needs of it: its id, name and folder (a
    ``Document``, or a folder page's ``selectors.ListedDocument``)."""

    @property
    def pk(self) -> Any: ...

    @property
    def name(self) -> str: ...

    @property
    def folder_id(self) -> Any: ...

    @property
    def folder(self) -> Folder | None: ...


class LockKeeper(Protocol):
    """An app that keeps documents' edit locks (webdav)."""

    def locks(
        self, access: WorkspaceAccess, documents: Sequence[PlacedDocument]
    ) -> Mapping[uuid.UUID, EditLock]:
        """The lock on each of ``documents`` that has one (all in ``access``'s workspace)."""
        ...

    def release(self, access: WorkspaceAccess, document: Document) -> list[EditLock]:
        """End every lock on ``document`` now; the locks ended."""
        ...


class EditLocks:
    """The keepers of documents' edit locks, asked without documents importing them."""

    def __init__(self) -> None:
        self._keepers: list[LockKeeper] = []

    def add(self, keeper: LockKeeper) -> None:
        """``keeper`` is asked from now on (from an app's ``ready()``); twice has no effect."""
        if keeper not in self._keepers:
            self._keepers.append(keeper)

    def remove(self, keeper: LockKeeper) -> None:
        if keeper in self._keepers:
            self._keepers.remove(keeper)

    def of(
        self, access: WorkspaceAccess, documents: Sequence[PlacedDocument]
    ) -> dict[uuid.UUID, EditLock]:
        """Each of ``documents`` held open elsewhere, with its lock (the earliest, if several
        keepers know one)."""
        found: dict[uuid.UUID, EditLock] = {}
        if not documents:
            return found
        for keeper in self._keepers:
            for pk, lock in keeper.locks(access, documents).items():
                if pk not in found or lock.since < found[pk].since:
                    found[pk] = lock
        return found

    def release(self, access: WorkspaceAccess, document: Document) -> list[EditLock]:
        """End every lock on ``document``, whoever keeps it; the locks ended."""
        ended: list[EditLock] = []
        for keeper in self._keepers:
            ended.extend(keeper.release(access, document))
        return ended


edit_locks = EditLocks()
