"""Reading what the WebDAV endpoint keeps: a person's scratch files, the documents they hold
aside, and their contents, every read scoped to the person asking; and the locks on documents,
for documents' pages (``receivers.LockKeeper``), which any member of the workspace sees."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS
from django.db.models import DateTimeField, QuerySet, UUIDField
from django.utils import timezone

from commonroom.core.prepared import Prepared
from commonroom.documents.selectors import (
    blob_file_open,
    folder_child_names,
    folder_documents,
    folder_path,
)
from commonroom.webdav.models import DavLock, ScratchFile
from commonroom.webdav.names import fold, lock_key, member_names, workspace_segments
from commonroom.workspaces.selectors import user_workspace_names

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.documents.hooks import PlacedDocument
    from commonroom.workspaces.selectors import WorkspaceAccess


def scratch_files(*, user: User, workspace_id: Any, folder_id: Any) -> list[ScratchFile]:
    """The person's scratch files in one place (a folder, or the workspace's top level)."""
    return list(
        ScratchFile.objects.filter(
            user=user, workspace_id=workspace_id, folder_id=folder_id
        ).order_by("name_key", "pk")
    )


def scratch_named(
    *, user: User, workspace_id: Any, folder_id: Any, name: str
) -> ScratchFile | None:
    return (
        ScratchFile.objects.filter(
            user=user, workspace_id=workspace_id, folder_id=folder_id, name_key=fold(name)
        )
        .order_by("pk")
        .first()
    )


def held_documents(*, user: User, workspace_id: Any, folder_id: Any = None) -> set[Any]:
    """The ids of the documents the person's client has moved aside (in the middle of a save)
    and that they see under another name until the hold ends."""
    qs = ScratchFile.objects.filter(
        user=user,
        workspace_id=workspace_id,
        stands_for__isnull=False,
        held_until__gt=timezone.now(),
    )
    return set(qs.values_list("stands_for_id", flat=True))


def hold_for(*, user: User, workspace_id: Any, folder_id: Any, name: str) -> ScratchFile | None:
    """The person's hold on a document called ``name`` in that place, if one is running."""
    for scratch in ScratchFile.objects.filter(
        user=user,
        workspace_id=workspace_id,
        stands_for__isnull=False,
        held_until__gt=timezone.now(),
        stands_for__folder_id=folder_id,
        stands_for__deleted_at__isnull=True,
    ).select_related("stands_for"):
        doc = scratch.stands_for
        if doc is not None and fold(doc.name) == fold(name):
            return scratch
    return None


def scratch_open(scratch: ScratchFile) -> IO[bytes]:
    """A scratch file's bytes, open for reading (``FileNotFoundError`` if its stored bytes
    were collected)."""
    if scratch.sha256:
        return blob_file_open(scratch.sha256)
    return io.BytesIO(bytes(scratch.data))


@dataclass(frozen=True)
class LockPlaces:
    """Where locks on one document are kept: its own key (``names.lock_key``: the workspace's
    id, then the names it is shown under over WebDAV), and its folders' and workspace's keys,
    whose locks hold it too when they reach all the way down (``Depth: infinity``)."""

    own: str
    above: tuple[str, ...]


def document_names(
    access: WorkspaceAccess, documents: Sequence[PlacedDocument]
) -> dict[Any, list[str]]:
    """Each document's names below its workspace over WebDAV: its folders', then its own as
    the endpoint shows it (``names.member_names``: numbered when a folder beside it has its
    name). Three queries per folder they are in at most (its path, the folders beside them,
    and, only when one of them is named like one of those folders, the other documents
    there)."""
    found: dict[Any, list[str]] = {}
    for docs in _by_folder(documents).values():
        path = [f.name for f in folder_path(docs[0].folder)]
        for pk, shown in _shown_names(access, docs).items():
            found[pk] = [*path, shown]
    return found


def _by_folder(documents: Sequence[PlacedDocument]) -> dict[Any, list[PlacedDocument]]:
    by_folder: dict[Any, list[PlacedDocument]] = {}
    for doc in documents:
        by_folder.setdefault(doc.folder_id, []).append(doc)
    return by_folder


def _shown_names(access: WorkspaceAccess, docs: Sequence[PlacedDocument]) -> dict[Any, str]:
    """The name each of ``docs`` (all in one folder) is shown under over WebDAV, by its id:
    its own, numbered when a folder beside it has it (``names.member_names``)."""
    folder = docs[0].folder
    beside = folder_child_names(access=access, folder_id=docs[0].folder_id)
    shown = {doc.name: doc.name for doc in docs}
    if {fold(d.name) for d in docs} & {fold(n) for n in beside}:
        everyone = list(
            folder_documents(access=access, folder=folder).values_list("name", flat=True)
        )
        shown = dict(zip(everyone, member_names(beside, everyone), strict=True))
    return {doc.pk: shown.get(doc.name, doc.name) for doc in docs}


def workspace_segment(*, user: User, workspace_id: Any) -> str | None:
    """The folder a person sees a workspace as under ``/dav/`` (``names.workspace_segments``:
    its name, with its id's start when two of theirs share it), or None if not theirs."""
    shown = workspace_segments(user_workspace_names(user=user))
    return next((name for name, ws in shown.items() if ws.pk == workspace_id), None)


def locks_holding(
    places: dict[Any, LockPlaces], rows: Sequence[DavLock]
) -> dict[Any, list[DavLock]]:
    """The locks of ``rows`` (live ones that may hold the documents, oldest first, with their
    holders: :func:`workspace_live_locks`) holding each document, by its :class:`LockPlaces`:
    one at its own key, or one reaching all the way down from a folder or the workspace above
    it."""
    found: dict[Any, list[DavLock]] = {}
    for pk, place in places.items():
        held = [
            row
            for row in rows
            if row.root == place.own or (row.root in place.above and row.depth == "infinity")
        ]
        if held:
            found[pk] = held
    return found


_LOCK_FIELDS = [field.attname for field in DavLock._meta.concrete_fields]
_HOLDER_FIELDS = [field.attname for field in get_user_model()._meta.concrete_fields]
_HOLDER_COLUMNS = [f"user__{name}" for name in _HOLDER_FIELDS]


def _live_locks(*, workspace_id: uuid.UUID, now: datetime) -> QuerySet[DavLock, Any]:
    """The workspace's locks that have not expired at ``now``, oldest first, each with every
    column of the lock and of its holder."""
    return (
        DavLock.objects.filter(workspace_id=workspace_id, expire_at__gt=now)
        .order_by("created_at", "token")
        .values_list(*_LOCK_FIELDS, *_HOLDER_COLUMNS)
    )


# Asked on every folder page and document page (who holds a document open in another program):
# :func:`_live_locks`, its SQL built once per process.
_LIVE_LOCKS = Prepared(
    "webdav.live_locks", _live_locks, workspace_id=UUIDField(), now=DateTimeField()
)


def workspace_live_locks(access: WorkspaceAccess) -> list[DavLock]:
    """The live locks in ``access``'s workspace, oldest first, with their holders: one indexed
    read. Every lock on a workspace's documents and folders is kept under its key
    (``names.lock_key``), and so has the workspace (``locks.workspace_of``)."""
    rows = _LIVE_LOCKS.rows(workspace_id=access.workspace.pk, now=timezone.now())
    User = get_user_model()
    locks = []
    for row in rows:
        lock = DavLock.from_db(DEFAULT_DB_ALIAS, _LOCK_FIELDS, [row[n] for n in _LOCK_FIELDS])
        lock.user = User.from_db(
            DEFAULT_DB_ALIAS, _HOLDER_FIELDS, [row[c] for c in _HOLDER_COLUMNS]
        )
        locks.append(lock)
    return locks


def document_locks(
    access: WorkspaceAccess, documents: Sequence[PlacedDocument]
) -> dict[uuid.UUID, list[DavLock]]:
    """The live locks holding each of ``documents`` (all in ``access``'s workspace).

    The workspace's live locks are read first: most of the time there are none, and then no
    document's names or keys are worked out at all. When there are, only the documents of a
    folder that one of them can reach (a lock at or above the folder, or on something directly
    in it) have their keys made, the folder's part of each key once."""
    if not documents:
        return {}
    rows = workspace_live_locks(access)
    if not rows:
        return {}
    workspace_id = access.workspace.pk
    roots = {row.root for row in rows}
    places: dict[Any, LockPlaces] = {}
    for docs in _by_folder(documents).values():
        path = [f.name for f in folder_path(docs[0].folder)]
        here = lock_key(workspace_id, path)
        above = (*(lock_key(workspace_id, path[:depth]) for depth in range(len(path))), here)
        inside = here + "/"
        # A name never holds a "/" (``documents.filenames``): a document's own key is one
        # part below its folder's.
        if roots.isdisjoint(above) and not any(
            root.startswith(inside) and "/" not in root[len(inside) :] for root in roots
        ):
            continue
        for pk, shown in _shown_names(access, docs).items():
            places[pk] = LockPlaces(own=lock_key(workspace_id, [*path, shown]), above=above)
    return locks_holding(places, rows)
