"""Purging enqueues the garbage collector, which removes blobs no version uses any more."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from commonroom.documents.models import Blob, blob_storage_name
from commonroom.documents.selectors import document_access
from commonroom.documents.services import document_delete, document_purge, document_upload
from commonroom.workspaces.selectors import workspace_access


@pytest.mark.django_db(transaction=True)
def test_purge_runs_the_collector_and_keeps_shared_blobs(team, make_upload):
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    only_here = document_upload(
        actor=team.manager, access=access, uploaded=make_upload("a.txt", b"only in a")
    )
    shared = document_upload(
        actor=team.manager, access=access, uploaded=make_upload("b.txt", b"in b and c")
    )
    document_upload(actor=team.manager, access=access, uploaded=make_upload("c.txt", b"in b and c"))
    # The grace period protects fresh uploads; make these blobs old enough to collect.
    Blob.objects.update(touched_at=timezone.now() - timedelta(days=1))

    for version in (only_here, shared):
        doc_access = document_access(
            user=team.manager, workspace_id=team.workspace.pk, document_id=version.document_id
        )
        document_delete(actor=team.manager, doc_access=doc_access)
        trashed = document_access(
            user=team.manager,
            workspace_id=team.workspace.pk,
            document_id=version.document_id,
            include_trash=True,
        )
        document_purge(actor=team.manager, access=access, document=trashed.document)

    assert not Blob.objects.filter(pk=only_here.blob_id).exists()
    assert not default_storage.exists(blob_storage_name(only_here.blob_id))
    # c.txt still uses the bytes b.txt had.
    assert Blob.objects.filter(pk=shared.blob_id).exists()
    assert default_storage.exists(blob_storage_name(shared.blob_id))


@pytest.mark.django_db(transaction=True)
def test_the_collector_after_a_purge_also_sweeps_what_crashes_left(team, make_upload, settings):
    import os
    import time
    from pathlib import Path

    stale = Path(settings.FILE_UPLOAD_TEMP_DIR) / "tmpk2j4x9_a.upload.docx"
    stale.write_bytes(b"an upload a crash cut short")
    fresh = Path(settings.FILE_UPLOAD_TEMP_DIR) / "tmpq8w7e6r5.upload.docx"
    fresh.write_bytes(b"perhaps still arriving")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    version = document_upload(
        actor=team.manager, access=access, uploaded=make_upload("a.txt", b"purged")
    )
    doc_access = document_access(
        user=team.manager, workspace_id=team.workspace.pk, document_id=version.document_id
    )
    document_delete(actor=team.manager, doc_access=doc_access)
    document_purge(actor=team.manager, access=access, document=doc_access.document)

    assert not stale.exists()
    assert fresh.exists()
