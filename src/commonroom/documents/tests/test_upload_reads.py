"""The reads every upload makes with SQL built once per process (``core.prepared``): the live
document of a name, the workspace's row under its lock and the person's role, the audit
chain's head and whether the workspace has a file's preview. Each answers what the ORM's own
query answers, after writes made straight through the ORM as another process makes them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commonroom.audit.models import AuditChainHead
from commonroom.audit.services import _head
from commonroom.documents.models import Document
from commonroom.documents.selectors import live_document_named
from commonroom.documents.tests.factories import make_folder, upload
from commonroom.documents.tests.test_prepared_reads import _fields
from commonroom.previews.models import WorkspacePreview
from commonroom.previews.selectors import made_in
from commonroom.workspaces.models import Membership, Workspace, current_q
from commonroom.workspaces.selectors import role_now, workspace_locked

pytestmark = pytest.mark.django_db


def _locks(read: Any) -> Any:
    """``read()``'s answer, its statement checked to lock the row where the database locks
    rows (PostgreSQL: ``FOR UPDATE``; SQLite locks the whole database for a write)."""
    with CaptureQueriesContext(connection) as ran:
        found = read()
    if connection.features.has_select_for_update:
        assert [q["sql"] for q in ran.captured_queries if "FOR UPDATE" in q["sql"]], ran
    return found


def _orms_named(workspace: Any, folder: Any, name: str) -> Document | None:
    return Document.objects.filter(
        workspace_id=workspace.pk, folder=folder, deleted_at__isnull=True, name__iexact=name
    ).first()


def test_the_live_document_of_a_name_is_the_orms(team: Any) -> None:
    ws = team.workspace
    folder = make_folder(team.manager, ws, "Minutes")
    upload(team.manager, ws, "Notes_1.txt", b"top")
    upload(team.manager, ws, "Notes_1.txt", b"in folder", folder=folder)
    upload(team.manager, ws, "100%.txt", b"percent")

    def same(folder: Any, name: str) -> Document | None:
        found = live_document_named(
            workspace_id=ws.pk, folder_id=folder.pk if folder else None, name=name
        )
        assert _fields(found) == _fields(_orms_named(ws, folder, name))
        return found

    assert same(None, "notes_1.TXT") is not None  # whatever the case
    assert same(folder, "NOTES_1.txt") is not None
    assert same(None, "NotesX1.txt") is None  # "_" is itself, not any character
    assert same(None, "100%.TXT") is not None
    assert same(None, "1000.txt") is None  # "%" is itself
    assert same(None, "minutes.txt") is None
    # Written straight through the ORM: moved to the trash, renamed, another workspace's.
    Document.objects.filter(name="100%.txt").update(deleted_at=timezone.now())
    assert same(None, "100%.txt") is None
    Document.objects.filter(folder=folder).update(name="Renamed.txt")
    assert same(folder, "notes_1.txt") is None
    assert same(folder, "renamed.TXT") is not None
    assert live_document_named(workspace_id=team.workspace.pk, folder_id=None, name="x") is None


def test_the_locked_workspace_and_the_role_are_the_orms(team: Any) -> None:
    ws = team.workspace

    def role(user: Any) -> str | None:
        found = role_now(workspace_id=ws.pk, user_id=user.pk)
        expected = (
            Membership.objects.filter(current_q(), workspace=ws, user=user)
            .values_list("role", flat=True)
            .first()
        )
        assert found == expected
        return found

    with transaction.atomic():
        assert _fields(_locks(lambda: workspace_locked(ws.pk))) == _fields(
            Workspace.objects.get(pk=ws.pk)
        )
        assert workspace_locked(str(ws.pk)) is not None
    assert role(team.editor) == "editor"
    assert role(team.outsider) is None
    Workspace.objects.filter(pk=ws.pk).update(name="Renamed", archived_at=timezone.now())
    with transaction.atomic():
        locked = workspace_locked(ws.pk)
        assert _fields(locked) == _fields(Workspace.objects.get(pk=ws.pk))
        assert locked is not None and locked.name == "Renamed"
    Membership.objects.filter(workspace=ws, user=team.editor).update(role="viewer")
    assert role(team.editor) == "viewer"
    yesterday = timezone.localdate() - timedelta(days=1)
    Membership.objects.filter(workspace=ws, user=team.viewer).update(access_until=yesterday)
    assert role(team.viewer) is None
    Membership.objects.filter(workspace=ws, user=team.commenter).delete()
    assert role(team.commenter) is None
    other = Workspace.objects.exclude(pk=ws.pk).first()
    with transaction.atomic():
        assert workspace_locked(other.pk if other else "00000000-0000-0000-0000-000000000000") == (
            other
        )


def test_the_chain_head_is_the_orms(team: Any) -> None:
    upload(team.manager, team.workspace, "a.txt", b"one")
    chain = str(team.workspace.pk)
    with transaction.atomic():
        assert _fields(_head(chain)) == _fields(AuditChainHead.objects.get(pk=chain))
        assert _head("no such chain") is None
    AuditChainHead.objects.filter(pk=chain).update(seq=41, hash="f" * 64, times_in_order=False)
    with transaction.atomic():
        head = _head(chain)
        assert _fields(head) == _fields(AuditChainHead.objects.get(pk=chain))
        assert head is not None and head.seq == 41


def test_made_in_is_the_orms(team: Any) -> None:
    version = upload(team.manager, team.workspace, "a.txt", b"one")
    ws, sha = team.workspace.pk, version.blob_id

    def same() -> bool:
        expected = WorkspacePreview.objects.filter(
            workspace_id=ws, blob_id=sha, made_at__isnull=False
        ).exists()
        assert made_in(ws, sha) == expected
        return expected

    WorkspacePreview.objects.filter(workspace_id=ws, blob_id=sha).update(made_at=None)
    assert same() is False
    WorkspacePreview.objects.filter(workspace_id=ws, blob_id=sha).update(made_at=timezone.now())
    assert same() is True
    assert made_in(str(ws), sha) is True
    WorkspacePreview.objects.filter(workspace_id=ws, blob_id=sha).delete()
    assert same() is False


def test_the_locked_document_and_its_versions_with_the_same_bytes_are_the_orms(team: Any) -> None:
    from django.db.models import Max, Min

    from commonroom.documents.models import Version
    from commonroom.documents.selectors import document_locked, same_bytes_numbers
    from commonroom.documents.tests.factories import new_version

    first = upload(team.manager, team.workspace, "a.txt", b"one")
    doc = Document.objects.get(pk=first.document_id)
    new_version(team.manager, doc, b"two")
    new_version(team.manager, Document.objects.get(pk=doc.pk), b"one")  # back to version 1's

    def same(blob_id: str) -> dict[str, Any]:
        found = same_bytes_numbers(document_id=doc.pk, blob_id=blob_id)
        expected = Version.objects.filter(document_id=doc.pk, blob_id=blob_id).aggregate(
            first=Min("number"), last=Max("number")
        )
        assert found == expected
        return found

    assert same(first.blob_id) == {"first": 1, "last": 3}
    assert same(Version.objects.get(document=doc, number=2).blob_id) == {"first": 2, "last": 2}
    assert same("0" * 64) == {"first": None, "last": None}
    with transaction.atomic():
        assert _fields(_locks(lambda: document_locked(doc.pk))) == _fields(
            Document.objects.get(pk=doc.pk)
        )
        assert document_locked(str(doc.pk)) is not None
    Document.objects.filter(pk=doc.pk).update(name="b.txt", deleted_at=timezone.now())
    Version.objects.filter(document=doc, number=3).update(number=4)
    assert same(first.blob_id) == {"first": 1, "last": 4}
    with transaction.atomic():
        assert _fields(document_locked(doc.pk)) == _fields(Document.objects.get(pk=doc.pk))
    Version.objects.filter(document=doc).delete()
    Document.objects.filter(pk=doc.pk).delete()
    with transaction.atomic():
        assert document_locked(doc.pk) is None


def test_a_documents_comments_and_their_entries_are_the_orms(team: Any) -> None:
    from commonroom.comments.models import Comment
    from commonroom.comments.selectors import live_comments_on
    from commonroom.search.models import Kind, SearchEntry
    from commonroom.search.services import _COMMENT_ENTRIES, _LIVE_COMMENT_IDS

    version = upload(team.manager, team.workspace, "a.txt", b"one")
    doc_id = version.document_id

    def same() -> None:
        assert [r[0] for r in _LIVE_COMMENT_IDS.tuples(document_id=doc_id)] == list(
            live_comments_on(doc_id).order_by("pk").values_list("pk", flat=True)
        )
        assert {r[0] for r in _COMMENT_ENTRIES.tuples(document_id=doc_id)} == set(
            SearchEntry.objects.filter(document_id=doc_id, kind=Kind.COMMENT).values_list(
                "object_id", flat=True
            )
        )

    same()
    comments = [
        Comment.objects.create(
            document_id=doc_id, version=version, author=team.manager, body=f"c{n}"
        )
        for n in range(3)
    ]
    SearchEntry.objects.create(
        kind=Kind.COMMENT,
        object_id=str(comments[0].pk),
        workspace_id=team.workspace.pk,
        document_id=doc_id,
        title="",
        body="c0",
    )
    same()
    Comment.objects.filter(pk=comments[1].pk).update(deleted_at=timezone.now())
    same()
