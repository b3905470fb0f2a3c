"""fsck re-hashes every stored blob and compares storage with the database."""

from __future__ import annotations

import hashlib

from commonroom.documents import services
from commonroom.documents.integrity import blobs_fsck
from commonroom.documents.models import Blob
from commonroom.documents.tests.factories import access_for, doc_access_for, new_version, upload


def test_a_healthy_store_is_ok(team):
    v1 = upload(team.editor, team.workspace, "a.txt", b"alpha")
    new_version(team.editor, v1.document, b"beta")
    upload(team.editor, team.workspace, "c.txt", b"alpha")  # shares a blob

    report = blobs_fsck()

    assert report.ok
    assert report.blobs_checked == 2
    assert report.bytes_checked == len(b"alpha") + len(b"beta")
    assert (report.missing, report.altered, report.unreferenced_rows, report.orphan_files) == (
        [],
        [],
        [],
        [],
    )


def test_fsck_reports_missing_altered_unreferenced_and_orphans(team, store):
    # A version whose blob file has gone
    gone = upload(team.editor, team.workspace, "gone.txt", b"gone")
    store.blob_path(gone.blob_id).unlink()
    # a version whose blob file was altered: one byte flipped
    altered = upload(team.editor, team.workspace, "altered.txt", b"altered")
    path = store.blob_path(altered.blob_id)
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))
    # a blob row that no version uses any more (its document was purged)
    purged = upload(team.editor, team.workspace, "purged.txt", b"purged")
    services.document_delete(
        actor=team.editor, doc_access=doc_access_for(team.editor, purged.document)
    )
    services.document_purge(
        actor=team.manager,
        access=access_for(team.manager, team.workspace),
        document=purged.document,
    )
    # and a file that no blob row names
    orphan_sha = hashlib.sha256(b"orphan").hexdigest()
    orphan = store.blob_path(orphan_sha)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"orphan")
    # next to a healthy one
    fine = upload(team.editor, team.workspace, "fine.txt", b"fine")

    report = blobs_fsck()

    assert not report.ok
    assert report.missing == [gone.blob_id]
    assert report.altered == [altered.blob_id]
    assert report.unreferenced_rows == [purged.blob_id]
    assert report.orphan_files == [f"blobs/{orphan_sha[:2]}/{orphan_sha[2:4]}/{orphan_sha}"]
    assert sorted(report.broken_versions) == sorted(
        [
            f"document {gone.document_id} version 1 -> {gone.blob_id}",
            f"document {altered.document_id} version 1 -> {altered.blob_id}",
        ]
    )
    assert fine.blob_id not in report.missing + report.altered + report.unreferenced_rows
    assert report.blobs_checked == 3  # altered, purged, fine: the missing one could not be read


def test_unreferenced_rows_and_orphans_alone_do_not_fail_the_check(team, store):
    """They lose nothing: the collector tidies them. Only missing or altered bytes are damage."""
    v = upload(team.editor, team.workspace, "purged.txt", b"purged")
    services.document_delete(actor=team.editor, doc_access=doc_access_for(team.editor, v.document))
    services.document_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=v.document
    )
    Blob.objects.filter(pk=v.blob_id).delete()  # the row goes, the file stays

    report = blobs_fsck()

    assert report.ok
    assert report.orphan_files == [
        store.blob_path(v.blob_id).relative_to(store.media_root).as_posix()
    ]


def test_partial_files_from_an_interrupted_write_are_not_reported_as_blobs(team, store):
    v = upload(team.editor, team.workspace, "a.txt", b"alpha")
    (store.blob_path(v.blob_id).parent / ".partial-abc123").write_bytes(b"alp")
    report = blobs_fsck()
    assert report.ok and report.orphan_files == []
