"""Background work for previews. Tasks take ids, call one service, and are safe to run twice."""

from __future__ import annotations

from django_tasks import task

from commonroom.previews.services import preview_make, preview_remake, previews_requeue_stuck


@task()
def make_preview(blob_sha: str) -> str:
    """Make the preview of one blob (enqueued after the first version that uses it commits)."""
    preview = preview_make(sha=blob_sha)
    return preview.status if preview is not None else "gone"


@task()
def requeue_stuck_previews() -> int:
    """Previews pending with no task are enqueued again. ``commonroom worker`` does this itself
    every few minutes; kept so that tasks already in a queue still run."""
    return previews_requeue_stuck()


@task()
def remake_preview(blob_sha: str) -> str:
    """Make a finished preview again (``commonroom previews_remake``); the old stays meanwhile."""
    preview = preview_remake(sha=blob_sha)
    return preview.status if preview is not None else "gone"
