"""The hook other apps follow documents by (documents/hooks.py): every change is told, typed,
inside its transaction, after it is written; a subscriber's failure undoes the change. (That
documents imports none of the apps that follow it is an import-linter contract in
pyproject.toml: documents-no-followers.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction

from commonroom.audit.models import AuditEvent
from commonroom.documents import hooks, services
from commonroom.documents.models import Blob, Document, Folder
from commonroom.documents.tests.factories import (
    access_for,
    doc_access_for,
    make_folder,
    new_version,
    upload,
)
from commonroom.live.models import Event

CHANGE_TYPES: tuple[type[Any], ...] = (
    hooks.VersionAdded,
    hooks.DocumentRenamed,
    hooks.DocumentMoved,
    hooks.DocumentTrashed,
    hooks.DocumentRestored,
    hooks.DocumentPurged,
    hooks.FolderCreated,
    hooks.FolderRenamed,
    hooks.FolderMoved,
    hooks.FolderTrashed,
    hooks.FolderRestored,
    hooks.FolderPurged,
    hooks.BlobsCollected,
)


@dataclass
class Told:
    change: Any
    in_transaction: bool
    stored: Any  # what the database held about it when the subscriber ran


def _stored(change: Any) -> Any:
    """The row the change is about, as the subscriber can read it (None once purged)."""
    if isinstance(change, hooks.BlobsCollected):
        return sorted(Blob.objects.filter(pk__in=change.shas).values_list("pk", flat=True))
    if isinstance(change, hooks.DocumentPurged):
        return Document.objects.filter(pk=change.document_id).first()
    if isinstance(change, hooks.FolderPurged):
        return Folder.objects.filter(pk=change.folder_id).first()
    if hasattr(change, "document"):
        return Document.objects.get(pk=change.document.pk)
    return Folder.objects.get(pk=change.folder.pk)


@pytest.fixture
def told() -> Any:
    seen: list[Told] = []

    def note(change: Any) -> None:
        seen.append(Told(change, connection.in_atomic_block, _stored(change)))

    for change_type in CHANGE_TYPES:
        hooks.subscribe(change_type, note)
    yield seen
    for change_type in CHANGE_TYPES:
        hooks.unsubscribe(change_type, note)


def test_every_change_is_told_typed_inside_its_transaction_once_written(team: Any, told: Any):
    ws, editor, manager = team.workspace, team.editor, team.manager
    first = upload(editor, ws, "minutes.txt", b"one")
    doc = first.document
    new_version(editor, doc, b"two")
    services.version_restore(actor=editor, doc_access=doc_access_for(editor, doc), number=1)
    services.document_rename(actor=editor, doc_access=doc_access_for(editor, doc), name="m.txt")
    board = make_folder(editor, ws, "Board")
    services.document_move(actor=editor, doc_access=doc_access_for(editor, doc), folder=board)
    access = access_for(manager, ws)
    services.folder_rename(actor=manager, access=access, folder=board, name="Board papers")
    archive = make_folder(editor, ws, "Archive")
    archive_id = archive.pk  # purging it empties archive.pk
    services.folder_move(actor=manager, access=access, folder=board, parent=archive)
    services.document_delete(actor=manager, doc_access=doc_access_for(manager, doc))
    trashed = Document.objects.get(pk=doc.pk)
    services.document_restore(actor=manager, access=access, document=trashed)
    archive.refresh_from_db()
    services.folder_delete(actor=manager, access=access, folder=archive)
    archive.refresh_from_db()
    services.folder_restore(actor=manager, access=access, folder=archive)
    services.document_delete(actor=manager, doc_access=doc_access_for(manager, doc))
    services.document_purge(actor=manager, access=access, document=Document.objects.get(pk=doc.pk))
    archive.refresh_from_db()
    services.folder_delete(actor=manager, access=access, folder=archive)
    archive.refresh_from_db()
    services.folder_purge(actor=manager, access=access, folder=archive)
    Blob.objects.update(touched_at=first.created_at - timedelta(days=1))
    assert services.blobs_collect_garbage(grace=timedelta(hours=1)) == 2

    kinds = [type(t.change).__name__ for t in told]
    assert kinds == [
        "VersionAdded",
        "VersionAdded",
        "VersionAdded",
        "DocumentRenamed",
        "FolderCreated",
        "DocumentMoved",
        "FolderRenamed",
        "FolderCreated",
        "FolderMoved",
        "DocumentTrashed",
        "DocumentRestored",
        "FolderTrashed",
        "FolderRestored",
        "DocumentTrashed",
        "DocumentPurged",
        "FolderTrashed",
        "FolderPurged",
        "BlobsCollected",
    ]
    assert all(t.in_transaction for t in told)
    by_kind: dict[str, list[Told]] = {}
    for t in told:
        by_kind.setdefault(type(t.change).__name__, []).append(t)
    added = by_kind["VersionAdded"]
    assert [(t.change.version.number, t.change.document_created) for t in added] == [
        (1, True),
        (2, False),
        (3, False),
    ]
    assert added[2].change.version.restored_from_number == 1
    assert all(t.stored.current_version_number == t.change.version.number for t in added)
    (renamed,) = by_kind["DocumentRenamed"]
    assert (renamed.change.old_name, renamed.stored.name) == ("minutes.txt", "m.txt")
    (moved,) = by_kind["DocumentMoved"]
    assert (moved.change.from_folder_id, moved.stored.folder_id) == (None, board.pk)
    (folder_renamed,) = by_kind["FolderRenamed"]
    assert (folder_renamed.change.old_name, folder_renamed.stored.name) == ("Board", "Board papers")
    (folder_moved,) = by_kind["FolderMoved"]
    assert (folder_moved.change.from_parent_id, folder_moved.stored.parent_id) == (None, archive_id)
    assert all(t.stored.in_trash for t in by_kind["DocumentTrashed"])
    (restored,) = by_kind["DocumentRestored"]
    assert not restored.stored.in_trash
    folder_trashed = by_kind["FolderTrashed"]
    # The first took the document with it (inside Board, inside Archive); the second found it
    # already in the trash on its own, and took nothing.
    assert [[d.pk for d in t.change.documents] for t in folder_trashed] == [[doc.pk], []]
    assert folder_trashed[0].stored.in_trash
    (folder_restored,) = by_kind["FolderRestored"]
    assert [d.pk for d in folder_restored.change.documents] == [doc.pk]
    assert not folder_restored.stored.in_trash
    (purged,) = by_kind["DocumentPurged"]
    assert (purged.change.document_id, purged.change.name, purged.stored) == (doc.pk, "m.txt", None)
    assert purged.change.workspace_id == ws.pk
    (folder_purged,) = by_kind["FolderPurged"]
    assert (folder_purged.change.folder_id, folder_purged.stored) == (archive_id, None)
    (collected,) = by_kind["BlobsCollected"]
    # Told while the rows (and their locks) are still held, before they go.
    assert sorted(collected.change.shas) == collected.stored
    assert len(collected.stored) == 2


def test_a_subscriber_that_fails_undoes_the_change_and_everything_written_with_it(team: Any):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"one").document
    events = Event.objects.count()
    audited = AuditEvent.objects.count()

    def refuse(change: hooks.DocumentRenamed) -> None:
        raise RuntimeError("the index is broken")

    with hooks.subscribed(hooks.DocumentRenamed, refuse), pytest.raises(RuntimeError):
        services.document_rename(
            actor=team.editor, doc_access=doc_access_for(team.editor, doc), name="other.txt"
        )
    assert Document.objects.get(pk=doc.pk).name == "minutes.txt"
    assert (Event.objects.count(), AuditEvent.objects.count()) == (events, audited)
    # And once it is gone, renaming works again.
    services.document_rename(
        actor=team.editor, doc_access=doc_access_for(team.editor, doc), name="other.txt"
    )
    assert Document.objects.get(pk=doc.pk).name == "other.txt"


@pytest.mark.django_db(transaction=True)
def test_a_change_told_outside_a_transaction_is_refused() -> None:
    change = hooks.BlobsCollected(shas=("0" * 64,))
    assert not connection.in_atomic_block
    with pytest.raises(hooks.OutsideTransaction):
        hooks.changed(change)
    with transaction.atomic():
        hooks.changed(change)  # the previews subscriber finds no files to remove


def test_search_notifications_previews_live_and_suggestions_subscribe_from_their_apps() -> None:
    """Wired by each app's ready(), each once."""

    def modules(change_type: type[Any]) -> list[str]:
        return sorted(s.__module__ for s in hooks.hook._subscribers.get(change_type, []))

    assert modules(hooks.VersionAdded) == [
        "commonroom.approvals.receivers",
        "commonroom.comments.receivers",
        "commonroom.live.receivers",
        "commonroom.notifications.receivers",
        "commonroom.previews.receivers",
        "commonroom.search.receivers",
        "commonroom.suggestions.receivers",
    ]
    assert modules(hooks.BlobsCollected) == ["commonroom.previews.receivers"]
    for change_type in CHANGE_TYPES:
        if change_type is not hooks.BlobsCollected:
            assert "commonroom.live.receivers" in modules(change_type), change_type
    assert sorted(p.__module__ for p in hooks.page_parts._parts) == [
        "commonroom.approvals.receivers",
        "commonroom.comments.receivers",
        "commonroom.notifications.receivers",
        "commonroom.previews.receivers",
        "commonroom.suggestions.receivers",
        "commonroom.webdav.receivers",
    ]
    # Documents held open in another program: WebDAV keeps those locks.
    assert [type(k).__module__ for k in hooks.edit_locks._keepers] == [
        "commonroom.webdav.receivers"
    ]
