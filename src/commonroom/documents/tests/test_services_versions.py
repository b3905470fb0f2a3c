"""Uploading documents and versions, restoring old versions, and storing each blob once."""

from __future__ import annotations

import hashlib

import pytest

from commonroom.audit.models import AuditEvent
from commonroom.core.exceptions import ApplicationError, Conflict, NotFound, PermissionDenied
from commonroom.documents import services
from commonroom.documents.models import Blob, Document, Version
from commonroom.documents.tests.factories import (
    a_file,
    access_for,
    doc_access_for,
    make_folder,
    new_version,
    upload,
)
from commonroom.documents.tests.support import png_bytes
from commonroom.live.models import Event
from commonroom.notifications.models import Follow, Notification


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_first_upload_creates_a_document_with_version_1(team, store):
    version = upload(team.editor, team.workspace, "minutes.txt", b"first draft", note="  draft ")

    doc = Document.objects.get()
    assert version.document_id == doc.pk
    assert (version.number, doc.current_version_number) == (1, 1)
    assert doc.name == version.filename == "minutes.txt"
    assert doc.created_by == team.editor and version.author == team.editor
    assert version.size == len(b"first draft")
    assert version.blob_id == sha(b"first draft")
    assert version.note == "draft"
    assert version.based_on_latest and version.based_on_number is None
    assert store.blob_path(version.blob_id).read_bytes() == b"first draft"


def test_same_name_in_the_same_folder_becomes_version_2(team):
    v1 = upload(team.editor, team.workspace, "Minutes.txt", b"one")
    v2 = upload(team.manager, team.workspace, "minutes.txt", b"two")

    assert v2.document_id == v1.document_id
    assert v2.number == 2
    assert (v2.based_on_number, v2.based_on_latest) == (1, True)
    assert Document.objects.get().current_version_number == 2
    assert list(Version.objects.order_by("number").values_list("blob_id", flat=True)) == [
        sha(b"one"),
        sha(b"two"),
    ]


def test_same_name_in_another_folder_is_another_document(team):
    folder = make_folder(team.editor, team.workspace, "Board")
    top = upload(team.editor, team.workspace, "minutes.txt", b"one")
    inside = upload(team.editor, team.workspace, "minutes.txt", b"two", folder=folder)

    assert inside.document_id != top.document_id
    assert inside.number == top.number == 1
    assert Document.objects.get(pk=inside.document_id).folder == folder


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("manager", True), ("editor", True), ("commenter", False), ("viewer", False)],
)
def test_only_editors_and_managers_upload(team, store, role, allowed):
    user = team.by_role[role]
    before = store.now()
    if allowed:
        version = upload(user, team.workspace, "minutes.txt", b"x")
        assert version.author == user
    else:
        with pytest.raises(PermissionDenied):
            upload(user, team.workspace, "minutes.txt", b"x")
        assert store.now() == before


@pytest.mark.parametrize("role", ["commenter", "viewer"])
def test_a_batch_from_someone_who_may_not_upload_is_refused_before_its_names_are_judged(
    team, store, role
):
    """They are told they may not upload, not that a name is unusable, and nothing is kept."""
    user = team.by_role[role]
    before = store.now()
    with pytest.raises(PermissionDenied, match=r"^You cannot upload to this workspace\.$"):
        services.documents_upload(
            actor=user,
            access=access_for(user, team.workspace),
            files=[a_file("minutes.txt"), a_file("....")],
        )
    assert store.now() == before
    # The same batch from an editor: the unusable name is what is refused.
    with pytest.raises(ApplicationError) as exc:
        services.documents_upload(
            actor=team.editor,
            access=access_for(team.editor, team.workspace),
            files=[a_file("minutes.txt"), a_file("....")],
        )
    assert exc.value.code == "invalid_filename"
    assert store.now() == before


def test_a_version_based_on_an_older_one_is_kept_and_flagged(team):
    # Given two people who both downloaded version 1
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"v1")
    doc = v1.document
    # when the first uploads their amendment (version 2) and then the second uploads theirs
    v2 = new_version(team.editor, doc, b"tom's amendment", based_on_number=1)
    v3 = new_version(team.manager, doc, b"priya's amendment", based_on_number=1)

    # then both amendments are kept, and the second is flagged as not based on the latest
    assert (v2.number, v2.based_on_number, v2.based_on_latest) == (2, 1, True)
    assert (v3.number, v3.based_on_number, v3.based_on_latest) == (3, 1, False)
    assert list(doc.versions.order_by("number").values_list("blob_id", flat=True)) == [
        sha(b"v1"),
        sha(b"tom's amendment"),
        sha(b"priya's amendment"),
    ]


def test_a_version_without_based_on_counts_as_based_on_the_latest(team):
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"v1")
    v2 = new_version(team.editor, v1.document, b"v2")
    assert (v2.number, v2.based_on_number, v2.based_on_latest) == (2, 1, True)


@pytest.mark.parametrize("based_on", [0, 2, 99])
def test_based_on_a_version_that_does_not_exist_is_refused_and_nothing_kept(team, store, based_on):
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"v1")
    before = store.now()

    with pytest.raises(ApplicationError) as exc:
        new_version(team.editor, v1.document, b"unseen bytes", based_on_number=based_on)

    assert exc.value.code == "invalid_based_on"
    assert store.now() == before
    assert not Blob.objects.filter(pk=sha(b"unseen bytes")).exists()


def test_viewers_and_commenters_cannot_upload_versions(team, store):
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"v1")
    before = store.now()
    for user in (team.viewer, team.commenter):
        with pytest.raises(PermissionDenied):
            new_version(user, v1.document, b"nope")
    assert store.now() == before


def test_restore_adds_a_new_version_that_points_at_the_old_blob(team):
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"original")
    v2 = new_version(team.editor, v1.document, b"amended")

    v3 = services.version_restore(
        actor=team.editor, doc_access=doc_access_for(team.editor, v1.document), number=1
    )

    assert v3.number == 3
    assert v3.restored_from_number == 1
    assert v3.blob_id == v1.blob_id == sha(b"original")
    assert v3.author == team.editor
    assert "Restored version 1" in v3.note
    # history is never rewritten: versions 1 and 2 are untouched, and no new blob was made
    assert list(Version.objects.order_by("number").values_list("number", "blob_id")) == [
        (1, v1.blob_id),
        (2, v2.blob_id),
        (3, v1.blob_id),
    ]
    assert Blob.objects.count() == 2
    assert Document.objects.get().current_version_number == 3


def test_restoring_a_version_that_does_not_exist_is_not_found(team):
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"original")
    with pytest.raises(NotFound):
        services.version_restore(
            actor=team.editor, doc_access=doc_access_for(team.editor, v1.document), number=5
        )
    assert Version.objects.count() == 1


def test_viewers_cannot_restore(team):
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"original")
    new_version(team.editor, v1.document, b"amended")
    with pytest.raises(PermissionDenied):
        services.version_restore(
            actor=team.viewer, doc_access=doc_access_for(team.viewer, v1.document), number=1
        )
    assert Version.objects.count() == 2


def test_identical_bytes_are_stored_once(team, store):
    a = upload(team.editor, team.workspace, "a.txt", b"the same bytes")
    b = upload(team.editor, team.workspace, "b.txt", b"the same bytes")
    other = new_version(team.editor, a.document, b"other bytes")
    c = new_version(team.editor, a.document, b"the same bytes")  # back to version 1's bytes

    assert a.document_id != b.document_id
    assert a.blob_id == b.blob_id == c.blob_id
    assert Blob.objects.count() == 2
    assert sorted(store.now().media) == sorted(
        store.blob_path(v.blob_id).relative_to(store.media_root).as_posix() for v in (a, other)
    )


def test_a_file_identical_to_the_latest_version_is_refused_and_nothing_is_made(team, store):
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"one")
    new_version(team.editor, v1.document, b"two")
    new_version(team.manager, v1.document, b"three")
    Follow.objects.create(user=team.viewer, document=v1.document)
    audit_before = AuditEvent.objects.count()
    events_before = Event.objects.count()
    before = store.now()

    with pytest.raises(Conflict) as exc:
        new_version(team.editor, v1.document, b"three", note="no change really")

    assert exc.value.status == 409
    assert exc.value.code == "same_as_latest"
    assert exc.value.message == (
        "This file is the same as version 3, the latest: no new version was made."
    )
    assert list(Version.objects.order_by("number").values_list("number", flat=True)) == [1, 2, 3]
    assert Document.objects.get().current_version_number == 3
    assert not Notification.objects.filter(recipient=team.viewer).exists()
    assert AuditEvent.objects.count() == audit_before
    assert Event.objects.count() == events_before
    assert store.now() == before


def test_a_file_identical_to_an_older_version_makes_a_new_version(team):
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"one")
    new_version(team.editor, v1.document, b"two")

    v3 = new_version(team.editor, v1.document, b"one", note="back to the first text")

    assert (v3.number, v3.blob_id) == (3, v1.blob_id)
    assert Document.objects.get().current_version_number == 3


def test_a_resend_of_the_latest_upload_returns_its_version_not_a_refusal(team, store):
    """The resend's bytes are, of course, those of the latest version (it made it): the upload
    key is answered before the bytes are compared."""
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"one")
    v2 = new_version(team.editor, v1.document, b"two", upload_key="send-1")

    again = new_version(team.editor, v1.document, b"two", upload_key="send-1")

    assert again.pk == v2.pk
    assert Version.objects.count() == 2
    # A new key with the same bytes is not a resend: it is refused.
    with pytest.raises(Conflict) as exc:
        new_version(team.editor, v1.document, b"two", upload_key="send-2")
    assert exc.value.code == "same_as_latest"


def test_the_same_upload_key_twice_gives_one_version(team, store):
    first = upload(team.editor, team.workspace, "minutes.txt", b"v1", upload_key="key-1")
    again = upload(team.editor, team.workspace, "minutes.txt", b"v1", upload_key="key-1")
    assert again.pk == first.pk

    v2 = new_version(team.editor, first.document, b"v2", upload_key="key-2")
    v2_again = new_version(team.editor, first.document, b"v2", upload_key="key-2")
    assert v2_again.pk == v2.pk

    assert list(Version.objects.order_by("number").values_list("number", flat=True)) == [1, 2]
    assert Blob.objects.count() == 2
    assert len(store.now().media) == 2


@pytest.mark.parametrize("key", ["../etc", "a" * 65, "key with spaces", "k\x00"])
def test_a_malformed_upload_key_is_refused_and_nothing_kept(team, store, key):
    before = store.now()
    with pytest.raises(ApplicationError) as exc:
        upload(team.editor, team.workspace, "minutes.txt", b"v1", upload_key=key)
    assert exc.value.code == "invalid_upload_key"
    assert store.now() == before


def test_a_zero_byte_file_is_accepted(team, store):
    version = upload(team.editor, team.workspace, "empty.txt", b"")
    assert version.size == 0
    assert version.blob_id == sha(b"")
    assert store.blob_path(version.blob_id).read_bytes() == b""


def test_the_content_type_comes_from_the_bytes_not_the_client(team):
    access = access_for(team.editor, team.workspace)
    version = services.document_upload(
        actor=team.editor,
        access=access,
        uploaded=a_file("x.pdf", png_bytes(), ctype="application/pdf"),
    )
    assert version.content_type == "image/png"


def test_a_docx_is_recognised_by_name_and_bytes(team):
    import io

    import docx

    buf = io.BytesIO()
    docx.Document().save(buf)
    version = upload(team.editor, team.workspace, "minutes.docx", buf.getvalue())
    assert version.content_type == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )


def test_an_upload_into_a_trashed_or_foreign_folder_is_not_found(team, store):
    from commonroom.workspaces.tests.factories import make_workspace

    trashed = make_folder(team.editor, team.workspace, "Old")
    services.folder_delete(
        actor=team.editor, access=access_for(team.editor, team.workspace), folder=trashed
    )
    other_ws = make_workspace(manager=team.outsider, name="Elsewhere")
    foreign = make_folder(team.outsider, other_ws, "Theirs")
    before = store.now()

    for folder in (trashed, foreign):
        with pytest.raises(NotFound):
            upload(team.editor, team.workspace, "minutes.txt", b"x", folder=folder)
    assert store.now() == before


# --- A blob is whole before a version points at it ---------------------------------------------


def test_a_storage_failure_leaves_no_rows(team, store, monkeypatch):
    from commonroom.documents.storage import DurableFileSystemStorage

    def broken_save(self, name, content):
        raise OSError("disk full")

    monkeypatch.setattr(DurableFileSystemStorage, "_save", broken_save)
    before = store.now()
    with pytest.raises(OSError, match="disk full"):
        upload(team.editor, team.workspace, "minutes.txt", b"never stored")
    assert store.now() == before


def test_a_failure_before_the_version_commits_leaves_no_version_and_a_collectable_blob(
    team, store, monkeypatch, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from commonroom.documents import integrity

    written = services.insert

    def crash(obj, **kwargs):  # the version's row, as it is about to be written
        if isinstance(obj, Version):
            raise RuntimeError("power cut")
        return written(obj, **kwargs)

    monkeypatch.setattr(services, "insert", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        upload(team.editor, team.workspace, "minutes.txt", b"half done")
    monkeypatch.undo()

    # No document and no version: the transaction that would have created them rolled back.
    assert (Document.objects.count(), Version.objects.count()) == (0, 0)
    # The whole blob was written first; nothing refers to it, and fsck and the collector see that.
    digest = sha(b"half done")
    assert store.blob_path(digest).read_bytes() == b"half done"
    assert integrity.blobs_fsck().unreferenced_rows == [digest]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.blobs_collect_garbage(grace=timedelta(0)) == 1
    assert store.now().media == []
    assert Blob.objects.count() == 0


def test_a_new_document_is_written_numbered_for_its_first_version_at_its_moment(team, store):
    """A new document is written once, already at version 1, made at the moment its first
    version is; a version after it moves its number and time as before."""
    first = upload(team.editor, team.workspace, "minutes.txt", b"first")
    doc = Document.objects.get(pk=first.document_id)
    assert (first.number, doc.current_version_number) == (1, 1)
    assert doc.created_at == doc.updated_at == first.created_at
    second = upload(team.editor, team.workspace, "minutes.txt", b"second")
    doc.refresh_from_db()
    assert (second.number, doc.current_version_number) == (2, 2)
    assert doc.updated_at == second.created_at > first.created_at
    assert doc.created_at == first.created_at
