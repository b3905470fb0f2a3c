"""Background work for documents. Tasks take ids (or nothing), call one service, and are safe to
run twice."""

from __future__ import annotations

from django_tasks import task

from commonroom.documents.services import blobs_collect_garbage, storage_sweep


@task()
def collect_garbage() -> int:
    """Remove blobs no version refers to, and the files crashes left (each after the grace
    period). Enqueued after each purge. Returns the number of blobs removed."""
    removed = blobs_collect_garbage()
    storage_sweep()
    return removed
