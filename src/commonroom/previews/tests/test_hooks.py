"""The hook other apps follow previews by (previews/hooks.py): a preview made is told inside
the transaction that records it, as ready or as failed. Search follows the ready ones (the words
of the documents showing the file), after that commit; comments both. (That previews does not
import search is an import-linter contract in pyproject.toml: followed-apps-no-followers.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from commonroom.previews import hooks
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.search.selectors import search
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db


def test_a_made_preview_is_told_inside_its_transaction_as_ready_or_failed(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    told: list[tuple[str, bool, str]] = []
    failed: list[tuple[str, bool, str]] = []

    def note(change: hooks.PreviewReady) -> None:
        status = Preview.objects.get(blob_id=change.sha256).status
        told.append((change.sha256, connection.in_atomic_block, status))

    def note_failed(change: hooks.PreviewFailed) -> None:
        status = Preview.objects.get(blob_id=change.sha256).status
        failed.append((change.sha256, connection.in_atomic_block, status))

    with (
        hooks.subscribed(hooks.PreviewReady, note),
        hooks.subscribed(hooks.PreviewFailed, note_failed),
    ):
        with django_capture_on_commit_callbacks(execute=True):
            doc = upload_document(
                team.workspace, team.manager, name="rota.txt", content=b"Narwhal rota for May"
            )
        with django_capture_on_commit_callbacks(execute=True):
            upload_document(team.workspace, team.manager, name="logo.svg", content=b"<svg></svg>")
    sha = doc.versions.get().blob_id
    assert Preview.objects.get(blob_id=sha).status == PreviewStatus.READY
    other = Preview.objects.exclude(blob_id=sha).get()
    assert other.status == PreviewStatus.FAILED
    assert told == [(sha, True, PreviewStatus.READY)]
    assert failed == [(other.blob_id, True, PreviewStatus.FAILED)]
    # Search followed it: the file's words find the document.
    assert [h.title for h in search(user=team.viewer, q="narwhal").hits] == ["rota.txt"]


def test_search_and_comments_follow_previews_from_their_apps() -> None:
    """Wired by each app's ready(), once."""
    subscribers = hooks.hook._subscribers.get(hooks.PreviewReady, [])
    assert sorted(s.__module__ for s in subscribers) == [
        "commonroom.comments.receivers",
        "commonroom.search.receivers",
    ]
    subscribers = hooks.hook._subscribers.get(hooks.PreviewFailed, [])
    assert [s.__module__ for s in subscribers] == ["commonroom.comments.receivers"]
