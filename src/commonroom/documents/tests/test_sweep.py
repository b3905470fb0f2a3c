"""What a crash can leave on disk, and the sweep that removes it (``storage_sweep``, run by
``commonroom gc`` and, for upload temporaries, by ``commonroom serve`` as it starts).

The sweep takes a file only when nobody has touched it for the grace period *and* no process
holds it (the lock a named scratch file keeps while open): an upload in progress is never taken,
however long it has been going.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from commonroom.documents import services
from commonroom.documents.integrity import blobs_fsck
from commonroom.documents.models import Blob, Document, blob_storage_name
from commonroom.documents.storage import PARTIAL_PREFIX, in_use, open_scratch
from commonroom.documents.tests.factories import access_for, doc_access_for, upload
from commonroom.documents.tests.support import files_holding
from commonroom.documents.uploads import TemporaryUploadedFile

HOUR = timedelta(hours=1)


def age(path: Path | str, hours: float = 2) -> None:
    """Make ``path`` look untouched for ``hours``."""
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


@pytest.fixture
def no_unnamed_files(monkeypatch: Any) -> None:
    """As on a system whose Python has no O_TMPFILE (macOS, say): scratch files are named."""
    monkeypatch.delattr(os, "O_TMPFILE")


# --- Upload temporaries ------------------------------------------------------------------------


def test_an_upload_temporary_has_no_name_and_its_blob_has_no_second_one(store, settings):
    """Linux: the upload's file has no name to leak, and the blob linked from it has one name
    only, so nothing holds a purged blob's bytes once the collector deletes that name."""
    uploaded = TemporaryUploadedFile("minutes.txt", "text/plain", 0, None)
    try:
        uploaded.write(b"the minutes")
        uploaded.size = len(b"the minutes")
        assert os.listdir(store.upload_tmp) == []
        default_storage.save("blobs/ab/cd/abcd" + "0" * 60, uploaded)
        blob = store.media_root / "blobs/ab/cd" / ("abcd" + "0" * 60)
        assert os.stat(blob).st_nlink == 1
        assert blob.read_bytes() == b"the minutes"
    finally:
        uploaded.close()
    assert blob.read_bytes() == b"the minutes"
    assert os.listdir(store.upload_tmp) == []


def test_a_named_upload_temporary_is_locked_while_open_and_gone_when_closed(
    store, no_unnamed_files
):
    uploaded = TemporaryUploadedFile("minutes.txt", "text/plain", 0, None)
    path = uploaded.temporary_file_path()
    assert Path(path).parent == store.upload_tmp
    assert Path(path).name.startswith("commonroom-upload-")
    assert in_use(path)
    uploaded.close()
    assert os.listdir(store.upload_tmp) == []


def test_the_sweep_takes_only_stale_temporaries_that_nobody_holds(db, store, no_unnamed_files):
    tmp = store.upload_tmp
    legacy = tmp / "tmpk2j4x9_a.upload.docx"  # what Django's handler left before
    legacy.write_bytes(b"a crashed upload")
    age(legacy)
    ours = tmp / "commonroom-upload-abc123.upload"  # a named one whose process died
    ours.write_bytes(b"another crashed upload")
    age(ours)
    fresh = tmp / "tmpq8w7e6r5.upload.pdf"  # minutes old: it may be an old server's, in progress
    fresh.write_bytes(b"fresh")
    foreign = tmp / "notes.txt"  # not a name uploads make: the folder may be shared
    foreign.write_bytes(b"someone else's")
    age(foreign)
    # an upload in progress for two hours (a slow link): its file is old but held open
    slow = TemporaryUploadedFile("big.bin", "application/octet-stream", 0, None)
    slow.write(b"still arriving")
    slow.flush()
    age(slow.temporary_file_path())

    try:
        result = services.storage_sweep(grace=HOUR)
        assert (result.temporaries, result.bytes) == (2, len(b"a crashed upload") * 2 + 6)
        assert sorted(os.listdir(tmp)) == sorted(
            [fresh.name, foreign.name, Path(slow.temporary_file_path()).name]
        )
        # Even with no grace at all, a file in use stays.
        services.storage_sweep(grace=timedelta(0))
        assert Path(slow.temporary_file_path()).exists()
        assert not fresh.exists()
        assert foreign.exists()
    finally:
        slow.close()


def test_fsck_reports_temporaries_and_partials_and_whether_they_are_in_use(
    team, store, no_unnamed_files
):
    v = upload(team.editor, team.workspace, "a.txt", b"alpha")
    left = store.upload_tmp / "tmpk2j4x9_a.upload.txt"
    left.write_bytes(b"half an upload")
    age(left, hours=3)
    partial = store.blob_path(v.blob_id).parent / f"{PARTIAL_PREFIX}x1y2z3"
    partial.write_bytes(b"alp")
    writing = TemporaryUploadedFile("big.bin", "application/octet-stream", 0, None)
    try:
        report = blobs_fsck()
        assert report.ok
        assert [(t.path, t.size, t.in_use) for t in report.temporaries] == [
            (writing.temporary_file_path(), 0, True),
            (str(left), len(b"half an upload"), False),
        ]
        assert [(p.path, p.in_use) for p in report.partials] == [(str(partial), False)]

        out = io.StringIO()
        call_command("fsck", stdout=out)
        text = out.getvalue()
        assert (
            f"TEMPORARY {left} (14 bytes, 180 min old; left by an upload that did not finish; "
            "`commonroom gc` removes it)" in text
        )
        assert (
            f"TEMPORARY {writing.temporary_file_path()} (0 bytes, 0 min old; an upload in "
            "progress is writing it)"
        ) in text
        assert f"PARTIAL   {partial} (3 bytes, 0 min old; left by a blob copy" in text
        assert text.rstrip().endswith("ok")
    finally:
        writing.close()


# --- Beside the blobs ------------------------------------------------------------------------


def test_the_sweep_takes_stale_partials_and_files_no_blob_row_names(team, store):
    kept = upload(team.editor, team.workspace, "a.txt", b"kept")
    age(store.blob_path(kept.blob_id))  # an old blob that a version uses: never touched
    folder = store.blob_path(kept.blob_id).parent
    stale_partial = folder / f"{PARTIAL_PREFIX}old"
    stale_partial.write_bytes(b"kep")
    age(stale_partial)
    fresh_partial = folder / f"{PARTIAL_PREFIX}new"
    fresh_partial.write_bytes(b"ke")
    orphan_sha = hashlib.sha256(b"orphan").hexdigest()
    orphan = store.blob_path(orphan_sha)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"orphan")
    age(orphan)
    young_sha = hashlib.sha256(b"young").hexdigest()
    young = store.blob_path(young_sha)
    young.parent.mkdir(parents=True, exist_ok=True)
    young.write_bytes(b"young")
    stray = folder / "README"  # not a blob's name: for a person to look at, not to delete
    stray.write_bytes(b"hand-made")
    age(stray)

    result = services.storage_sweep(grace=HOUR)

    assert (result.partials, result.unreferenced_files) == (1, 1)
    assert not stale_partial.exists()
    assert not orphan.exists()
    assert fresh_partial.exists() and young.exists() and stray.exists()
    assert store.blob_path(kept.blob_id).read_bytes() == b"kept"
    assert not Blob.objects.filter(pk=orphan_sha).exists()  # its claim was let go
    out = io.StringIO()
    call_command("fsck", stdout=out)
    young_name = young.relative_to(store.media_root).as_posix()
    stray_name = stray.relative_to(store.media_root).as_posix()
    assert (
        f"ORPHAN    {young_name} (a file with no blob record; `commonroom gc` removes it)"
    ) in out.getvalue()
    assert (
        f"ORPHAN    {stray_name} (a file with no blob record; not a blob's name: look at it by "
        "hand)"
    ) in out.getvalue()
    assert out.getvalue().rstrip().endswith("ok")


def test_a_file_with_no_row_that_an_upload_takes_up_is_kept(team, store):
    """The row is claimed before the file is used: once an upload has it, it is not orphan."""
    sha = hashlib.sha256(b"the same bytes").hexdigest()
    orphan = store.blob_path(sha)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"the same bytes")
    age(orphan)
    v = upload(team.editor, team.workspace, "a.txt", b"the same bytes")
    assert v.blob_id == sha

    assert services.storage_sweep(grace=timedelta(0)).unreferenced_files == 0
    assert orphan.read_bytes() == b"the same bytes"
    assert blobs_fsck().ok


def test_a_partial_being_written_is_never_swept(db, store, no_unnamed_files):
    folder = store.media_root / "blobs" / "ab" / "cd"
    folder.mkdir(parents=True)
    with open_scratch(str(folder), prefix=PARTIAL_PREFIX) as writing:
        writing.write(b"half")
        writing.flush()
        age(writing.name)
        assert services.storage_sweep(grace=timedelta(0)).partials == 0
        assert os.listdir(folder) == [os.path.basename(writing.name)]
    assert os.listdir(folder) == []  # closing removes it


def test_a_blob_copy_cut_short_leaves_nothing_either_way(db, store, no_unnamed_files):
    from django.core.files.base import ContentFile

    class Broken(ContentFile):
        def chunks(self, chunk_size=None):
            yield b"first"
            raise OSError("disk gone")

    with pytest.raises(OSError):
        default_storage.save("blobs/ab/cd/abcd" + "0" * 60, Broken(b"x" * 10, name="x"))
    assert os.listdir(store.media_root / "blobs" / "ab" / "cd") == []


# --- Blob rows -----------------------------------------------------------------------------


def test_a_row_claimed_but_never_written_is_unused_not_missing(team, store):
    """An upload that died between claiming its row and writing the file: nothing refers to it,
    nothing is lost. fsck says so and passes; gc removes the row."""
    sha = hashlib.sha256(b"never arrived").hexdigest()
    Blob.objects.create(sha256=sha, size=13)
    used = upload(team.editor, team.workspace, "a.txt", b"here")

    report = blobs_fsck()
    assert report.ok
    assert report.missing == []
    assert (report.unreferenced_rows, report.never_written) == ([sha], [sha])
    out = io.StringIO()
    call_command("fsck", stdout=out)
    assert (
        f"UNUSED    {sha} (its file was never written and no version refers to it; "
        "`commonroom gc` removes it)"
    ) in out.getvalue()
    assert out.getvalue().rstrip().endswith("ok")

    # A used blob whose file is gone is still damage.
    store.blob_path(used.blob_id).unlink()
    assert blobs_fsck().missing == [used.blob_id]

    Blob.objects.filter(pk=sha).update(touched_at=Blob.objects.get(pk=sha).touched_at - 2 * HOUR)
    assert services.blobs_collect_garbage(grace=HOUR) == 1
    assert not Blob.objects.filter(pk=sha).exists()


def test_gc_command_says_what_it_swept(db, store):
    left = store.upload_tmp / "tmpk2j4x9_a.upload.txt"
    left.write_bytes(b"half an upload")
    age(left)
    out = io.StringIO()
    call_command("gc", stdout=out)
    assert out.getvalue().splitlines() == [
        "removed 0 unreferenced blob(s)",
        "removed 1 upload temporary file(s), 0 partial file(s) and 0 file(s) with no blob "
        "record (14 bytes)",
    ]
    assert not left.exists()


# --- Purged means gone -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_purged_documents_bytes_are_nowhere_under_the_data_folder(team, store, tmp_path):
    """Uploaded through the real upload handler, purged, collected: no file anywhere under the
    data folder (blobs, previews, the upload temporary folder) holds the bytes any more."""
    content = os.urandom(3 * 1024 * 1024)
    client = Client()
    client.force_login(team.editor)
    response = client.post(
        f"/w/{team.workspace.pk}/upload/",
        {"files": SimpleUploadedFile("minutes.bin", content)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["uploaded"][0]["version"] == 1
    doc = Document.objects.get(workspace=team.workspace)
    sha = hashlib.sha256(content).hexdigest()
    assert files_holding(tmp_path, content[:4096]) == [f"files/{blob_storage_name(sha)}"]

    services.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, doc))
    services.document_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
    )
    call_command("gc", "--grace-minutes", "0", stdout=io.StringIO())

    assert not Blob.objects.filter(pk=sha).exists()
    assert files_holding(tmp_path, content[:4096]) == []


def test_an_upload_cut_off_after_storing_holds_no_name_to_the_purged_bytes(team, store, tmp_path):
    """A server killed after the blob was linked from the upload's temporary file, before the
    request closed it: that temporary must not be a second name that keeps the bytes of a
    document once it is purged and collected (here the upload's file is simply never closed,
    as a killed process never closes it)."""
    content = os.urandom(256 * 1024)
    uploaded = TemporaryUploadedFile("minutes.bin", "application/octet-stream", 0, None)
    try:
        uploaded.write(content)
        uploaded.size = len(content)
        v = services.document_upload(
            actor=team.editor, access=access_for(team.editor, team.workspace), uploaded=uploaded
        )
        doc = v.document
        services.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, doc))
        services.document_purge(
            actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
        )
        # The collector runs after the blob's grace period; the crash was moments ago.
        Blob.objects.filter(pk=v.blob_id).update(touched_at=timezone.now() - 2 * HOUR)
        call_command("gc", stdout=io.StringIO())

        assert not Blob.objects.filter(pk=v.blob_id).exists()
        assert files_holding(tmp_path, content[:4096]) == []
    finally:
        uploaded.close()


@pytest.mark.django_db(transaction=True)
def test_an_upload_of_the_bytes_the_sweep_is_deleting_waits_and_stores_them_again(team, store):
    """PostgreSQL, two connections interleaved for real: the sweep has claimed the row of a file
    no row named and deleted the file, and is held before it commits; an upload of the same
    bytes then waits on that claim, and once the sweep commits, stores the bytes again. (SQLite
    serialises every write transaction, so there the two cannot interleave at all.)"""
    if connection.vendor != "postgresql":
        pytest.skip("needs two write transactions at once (PostgreSQL)")
    content = b"the same bytes, twice"
    sha = hashlib.sha256(content).hexdigest()
    orphan = store.blob_path(sha)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(content)
    age(orphan)
    results: dict[str, Any] = {}

    def in_thread(name: str, work: Any) -> threading.Thread:
        def run() -> None:
            try:
                results[name] = work()
            except BaseException as exc:
                results[name] = exc
            finally:
                connection.close()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def waiting_on_a_lock(query_start: str) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # fresh, not this transaction's
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE %s",
                [query_start + "%"],
            )
            return cursor.fetchone()[0] > 0

    def until(condition: Any) -> None:
        deadline = time.monotonic() + 20
        while not condition():
            assert time.monotonic() < deadline, f"timed out; finished: {results}"
            time.sleep(0.01)

    with transaction.atomic(), connection.cursor() as cursor:
        # The sweep's delete of its claim first looks for versions (PROTECT): hold it there.
        cursor.execute("LOCK TABLE documents_version IN ACCESS EXCLUSIVE MODE")
        sweep = in_thread("sweep", lambda: services.storage_sweep(grace=timedelta(0)))
        until(lambda: not orphan.exists())
        uploader = in_thread(
            "upload", lambda: upload(team.editor, team.workspace, "a.txt", content)
        )
        until(lambda: waiting_on_a_lock('INSERT INTO "documents_blob"'))
        assert "upload" not in results
    sweep.join(20)
    uploader.join(20)

    assert results["sweep"].unreferenced_files == 1
    version = results["upload"]
    assert version.blob_id == sha
    assert orphan.read_bytes() == content
    assert blobs_fsck().ok
