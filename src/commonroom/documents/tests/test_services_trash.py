"""The trash: delete moves there, managers restore or purge, the collector removes unused blobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from commonroom.audit.models import Action, AuditEvent
from commonroom.core.exceptions import ApplicationError, NotFound, PermissionDenied
from commonroom.documents import services
from commonroom.documents.models import Blob, Document, Folder, Version
from commonroom.documents.selectors import folder_documents, trash_items
from commonroom.documents.tests.factories import (
    access_for,
    doc_access_for,
    make_folder,
    new_version,
    upload,
)


def delete_doc(user, doc):
    services.document_delete(actor=user, doc_access=doc_access_for(user, doc))


def delete_folder(user, folder):
    services.folder_delete(actor=user, access=access_for(user, folder.workspace), folder=folder)


def trashed(model, pk):
    return model.objects.get(pk=pk).deleted_at is not None


def test_deleting_a_document_puts_it_in_the_trash(team):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    delete_doc(team.editor, doc)

    doc.refresh_from_db()
    assert doc.in_trash and doc.deleted_by == team.editor
    assert Version.objects.filter(document=doc).count() == 1  # nothing is lost yet
    access = access_for(team.manager, team.workspace)
    assert list(folder_documents(access=access, folder=None)) == []
    assert list(trash_items(access=access)[1]) == [doc]
    # A trashed document is out of reach for everyone but the trash.
    with pytest.raises(NotFound):
        doc_access_for(team.manager, doc)
    assert doc_access_for(team.manager, doc, include_trash=True).document == doc
    with pytest.raises(NotFound):
        doc_access_for(team.editor, doc, include_trash=True)


def test_viewers_cannot_delete(team):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    with pytest.raises(PermissionDenied):
        delete_doc(team.viewer, doc)
    with pytest.raises(PermissionDenied):
        delete_folder(team.commenter, make_folder(team.editor, team.workspace, "Board"))
    assert not trashed(Document, doc.pk)


def test_deleting_a_folder_takes_its_contents_along_and_restoring_brings_them_back(team):
    # Given a folder with a document and a subfolder holding another document
    board = make_folder(team.editor, team.workspace, "Board")
    sub = make_folder(team.editor, team.workspace, "2025", parent=board)
    top_doc = upload(team.editor, team.workspace, "minutes.txt", b"a", folder=board).document
    deep_doc = upload(team.editor, team.workspace, "agenda.txt", b"b", folder=sub).document
    # and a document that was already trashed on its own before
    own = upload(team.editor, team.workspace, "draft.txt", b"c", folder=board).document
    delete_doc(team.editor, own)
    outside = upload(team.editor, team.workspace, "other.txt", b"d").document

    # when the folder is deleted
    delete_folder(team.editor, board)

    # then everything inside went with it, as one trash item
    assert all(trashed(Folder, f.pk) for f in (board, sub))
    assert all(trashed(Document, d.pk) for d in (top_doc, deep_doc, own))
    assert not trashed(Document, outside.pk)
    folders, docs = trash_items(access=access_for(team.manager, team.workspace))
    assert list(folders) == [board]
    assert list(docs) == [own]  # only what was put there on its own

    # and restoring the folder brings back exactly what went with it
    services.folder_restore(
        actor=team.manager, access=access_for(team.manager, team.workspace), folder=board
    )
    assert not any(trashed(Folder, f.pk) for f in (board, sub))
    assert not any(trashed(Document, d.pk) for d in (top_doc, deep_doc))
    assert trashed(Document, own.pk)
    assert Document.objects.get(pk=deep_doc.pk).folder_id == sub.pk


def test_only_managers_restore(team):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    delete_doc(team.editor, doc)
    with pytest.raises(PermissionDenied):
        services.document_restore(
            actor=team.editor, access=access_for(team.editor, team.workspace), document=doc
        )
    assert trashed(Document, doc.pk)


def test_restoring_onto_a_taken_name_adds_restored(team):
    first = upload(team.editor, team.workspace, "minutes.docx", b"old").document
    delete_doc(team.editor, first)
    upload(team.editor, team.workspace, "minutes.docx", b"new")  # a new document, same name
    second = upload(team.editor, team.workspace, "minutes.docx", b"newer")
    assert second.number == 2  # the live one took the upload, not the trashed one

    access = access_for(team.manager, team.workspace)
    restored = services.document_restore(actor=team.manager, access=access, document=first)
    assert restored.name == "minutes (restored).docx"
    assert not restored.in_trash

    # A second clash gets another free name.
    delete_doc(team.manager, restored)
    upload(team.editor, team.workspace, "minutes (restored).docx", b"x")
    again = services.document_restore(actor=team.manager, access=access, document=restored)
    assert again.name not in {"minutes.docx", "minutes (restored).docx"}
    assert again.name.startswith("minutes (restored") and again.name.endswith(".docx")
    names = list(Document.objects.filter(deleted_at__isnull=True).values_list("name", flat=True))
    assert len(names) == len({n.lower() for n in names})


def test_a_folder_restored_onto_a_taken_name_adds_restored(team):
    board = make_folder(team.editor, team.workspace, "Board")
    delete_folder(team.editor, board)
    make_folder(team.editor, team.workspace, "Board")
    restored = services.folder_restore(
        actor=team.manager, access=access_for(team.manager, team.workspace), folder=board
    )
    assert restored.name == "Board (restored)"


def test_a_document_whose_folder_is_still_in_the_trash_is_restored_to_the_top(team):
    board = make_folder(team.editor, team.workspace, "Board")
    doc = upload(team.editor, team.workspace, "minutes.txt", b"x", folder=board).document
    delete_doc(team.editor, doc)
    delete_folder(team.editor, board)
    restored = services.document_restore(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
    )
    assert (restored.in_trash, restored.folder_id) == (False, None)


def test_purge_is_for_managers_only_and_only_from_the_trash(team):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    with pytest.raises(ApplicationError) as exc:
        services.document_purge(
            actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
        )
    assert exc.value.code == "not_in_trash"
    delete_doc(team.editor, doc)
    with pytest.raises(PermissionDenied):
        services.document_purge(
            actor=team.editor, access=access_for(team.editor, team.workspace), document=doc
        )
    assert Document.objects.filter(pk=doc.pk).exists()
    assert not AuditEvent.objects.filter(action=Action.DOCUMENT_PURGED).exists()


def test_purging_a_document_removes_its_rows_and_is_audited(team):
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"one")
    v2 = new_version(team.editor, v1.document, b"two")
    doc = v1.document
    delete_doc(team.editor, doc)

    services.document_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
    )

    assert not Document.objects.filter(pk=doc.pk).exists()
    assert not Version.objects.filter(document_id=doc.pk).exists()
    event = AuditEvent.objects.get(action=Action.DOCUMENT_PURGED)
    assert event.actor_id == team.manager.pk
    assert event.workspace_id == team.workspace.pk
    assert event.document_id == doc.pk
    assert event.target_label == "minutes.txt"
    assert event.data["versions"] == 2
    assert sorted(event.data["sha256"]) == sorted([v1.blob_id, v2.blob_id])
    # The blobs are the collector's business, after the grace period.
    assert Blob.objects.count() == 2


def test_purging_a_folder_purges_everything_beneath_it(team):
    board = make_folder(team.editor, team.workspace, "Board")
    sub = make_folder(team.editor, team.workspace, "2025", parent=board)
    a = upload(team.editor, team.workspace, "minutes.txt", b"a", folder=board).document
    b = upload(team.editor, team.workspace, "agenda.txt", b"b", folder=sub).document
    c = upload(team.editor, team.workspace, "draft.txt", b"c", folder=sub).document
    delete_doc(team.editor, c)  # trashed on its own first
    keep = upload(team.editor, team.workspace, "other.txt", b"d").document
    delete_folder(team.editor, board)
    board_id = board.pk

    services.folder_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), folder=board
    )

    assert not Folder.objects.filter(pk__in=[board_id, sub.pk]).exists()
    assert list(Document.objects.values_list("pk", flat=True)) == [keep.pk]
    assert list(Version.objects.values_list("document_id", flat=True)) == [keep.pk]
    purged = set(
        AuditEvent.objects.filter(action=Action.DOCUMENT_PURGED).values_list(
            "document_id", flat=True
        )
    )
    assert purged == {a.pk, b.pk, c.pk}  # every document that went is on the record
    assert AuditEvent.objects.filter(action=Action.FOLDER_PURGED, target_id=str(board_id)).exists()


def test_only_managers_purge_folders(team):
    board = make_folder(team.editor, team.workspace, "Board")
    delete_folder(team.editor, board)
    with pytest.raises(PermissionDenied):
        services.folder_purge(
            actor=team.editor, access=access_for(team.editor, team.workspace), folder=board
        )
    assert Folder.objects.filter(pk=board.pk).exists()


# --- Garbage collection -------------------------------------------------------------------------


def age(sha256: str, by: timedelta) -> None:
    Blob.objects.filter(pk=sha256).update(touched_at=timezone.now() - by)


def test_the_collector_removes_only_old_unreferenced_blobs_and_their_files(
    team, store, django_capture_on_commit_callbacks
):
    # Given an old blob still used, an old blob no longer used, and a fresh unused blob
    used = upload(team.editor, team.workspace, "used.txt", b"still used")
    old = upload(team.editor, team.workspace, "old.txt", b"old and unused")
    fresh = upload(team.editor, team.workspace, "fresh.txt", b"fresh and unused")
    access = access_for(team.manager, team.workspace)
    for v in (old, fresh):
        delete_doc(team.editor, v.document)
        services.document_purge(actor=team.manager, access=access, document=v.document)
    for v in (used, old):
        age(v.blob_id, timedelta(hours=2))
    age(fresh.blob_id, timedelta(minutes=10))

    # when the collector runs with a one-hour grace period
    with django_capture_on_commit_callbacks(execute=True):
        removed = services.blobs_collect_garbage(grace=timedelta(hours=1))

    # then only the old unused blob is gone, row and file
    assert removed == 1
    assert set(Blob.objects.values_list("pk", flat=True)) == {used.blob_id, fresh.blob_id}
    assert not store.blob_path(old.blob_id).exists()
    assert store.blob_path(used.blob_id).read_bytes() == b"still used"
    assert store.blob_path(fresh.blob_id).read_bytes() == b"fresh and unused"
    event = AuditEvent.objects.get(action=Action.BLOBS_COLLECTED)
    assert event.data == {"count": 1, "sha256": [old.blob_id]}

    # and running it again finds nothing to do
    with django_capture_on_commit_callbacks(execute=True):
        assert services.blobs_collect_garbage(grace=timedelta(hours=1)) == 0


def test_a_blob_shared_with_a_live_version_survives_a_purge_and_collection(
    team, store, django_capture_on_commit_callbacks
):
    a = upload(team.editor, team.workspace, "a.txt", b"shared bytes")
    b = upload(team.editor, team.workspace, "b.txt", b"shared bytes")
    delete_doc(team.editor, a.document)
    services.document_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=a.document
    )
    age(a.blob_id, timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.blobs_collect_garbage(grace=timedelta(0)) == 0
    assert store.blob_path(b.blob_id).read_bytes() == b"shared bytes"


def test_a_blob_uploaded_again_before_the_files_go_is_kept(
    team, store, django_capture_on_commit_callbacks
):
    """The collector deletes rows first and files only after commit, and not when the same bytes
    came back in between."""
    v = upload(team.editor, team.workspace, "a.txt", b"comes back")
    delete_doc(team.editor, v.document)
    services.document_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=v.document
    )
    age(v.blob_id, timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.blobs_collect_garbage(grace=timedelta(hours=1)) == 1
    again = upload(team.editor, team.workspace, "b.txt", b"comes back")
    for callback in callbacks:
        callback()
    assert Blob.objects.filter(pk=again.blob_id).exists()
    assert store.blob_path(again.blob_id).read_bytes() == b"comes back"


@pytest.mark.django_db(transaction=True)
def test_a_collector_running_as_an_upload_stores_its_file_never_leaves_a_version_without_it(
    team, store, monkeypatch
):
    """The worst moment: the same bytes come back (their file is still on disk, their row is
    old and unused) and the collector runs right after the upload's storage write, before the
    version commits. The upload claimed the row first, so the collector leaves it alone."""
    from commonroom.documents.storage import DurableFileSystemStorage

    v = upload(team.editor, team.workspace, "a.txt", b"old bytes")
    delete_doc(team.editor, v.document)
    services.document_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=v.document
    )
    age(v.blob_id, timedelta(days=1))
    collected: list[int] = []
    real_save = DurableFileSystemStorage._save

    def save_then_collect(self, name, content):
        stored = real_save(self, name, content)
        collected.append(services.blobs_collect_garbage(grace=timedelta(hours=1)))
        return stored

    monkeypatch.setattr(DurableFileSystemStorage, "_save", save_then_collect)
    again = upload(team.editor, team.workspace, "b.txt", b"old bytes")

    assert collected == [0]
    assert store.blob_path(again.blob_id).read_bytes() == b"old bytes"
    assert Blob.objects.filter(pk=again.blob_id).exists()
