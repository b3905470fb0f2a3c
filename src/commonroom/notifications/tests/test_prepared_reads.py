"""The document page's "Follow" button and its "seen" mark read with SQL built once per process
(``core.prepared``): each answers what the ORM's query answers after rows are written, changed
and removed straight through the ORM, as another process writes them."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commonroom.documents.models import Document
from commonroom.notifications.models import DocumentSeen, Follow
from commonroom.notifications.selectors import is_following
from commonroom.notifications.services import document_seen
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db


def test_following_is_the_orms_answer_after_each_write(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt")
    other = upload_document(team.workspace, team.manager, name="agenda.txt")
    people = [team.manager, team.editor, team.commenter, team.viewer]

    def check() -> list[bool]:
        found = [is_following(user=p, document=doc) for p in people]
        assert found == [Follow.objects.filter(user=p, document=doc).exists() for p in people]
        return found

    assert check() == [True, False, False, False]  # the uploader follows what they upload
    Follow.objects.create(user=team.viewer, document=doc)
    Follow.objects.create(user=team.editor, document=other)  # another document's: not this one
    assert check() == [True, False, False, True]
    Follow.objects.filter(user=team.manager).delete()
    assert check() == [False, False, False, True]


def _seen(user: Any, doc: Any) -> int | None:
    return (
        DocumentSeen.objects.filter(user=user, document=doc)
        .values_list("version_number", flat=True)
        .first()
    )


def _mark(user: Any, doc: Any) -> bool:
    """The page's mark: whether it asked the database to write."""
    with CaptureQueriesContext(connection) as ctx:
        document_seen(user=user, document=Document.objects.get(pk=doc.pk))
    return any(
        q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT")) for q in ctx.captured_queries
    )


def test_the_seen_mark_reads_the_mark_as_the_orm_does_after_each_write(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt")
    assert _seen(team.viewer, doc) is None
    assert _mark(team.viewer, doc) and _seen(team.viewer, doc) == 1  # written
    assert not _mark(team.viewer, doc) and _seen(team.viewer, doc) == 1  # seen already
    # A later version written straight through the ORM (another process): seen again.
    Document.objects.filter(pk=doc.pk).update(current_version_number=2)
    assert _mark(team.viewer, doc) and _seen(team.viewer, doc) == 2
    assert not _mark(team.viewer, doc)
    # The mark moved back, ahead, or removed by another process: the mark follows it.
    DocumentSeen.objects.filter(user=team.viewer, document=doc).update(version_number=1)
    assert _mark(team.viewer, doc) and _seen(team.viewer, doc) == 2
    DocumentSeen.objects.filter(user=team.viewer, document=doc).update(version_number=7)
    assert not _mark(team.viewer, doc) and _seen(team.viewer, doc) == 7
    DocumentSeen.objects.filter(user=team.viewer, document=doc).delete()
    assert _mark(team.viewer, doc) and _seen(team.viewer, doc) == 2
    # Another person's mark and another document's are theirs.
    other = upload_document(team.workspace, team.manager, name="agenda.txt")
    DocumentSeen.objects.create(user=team.editor, document=doc, version_number=2)
    DocumentSeen.objects.create(user=team.commenter, document=other, version_number=9)
    assert _mark(team.commenter, doc) and _seen(team.commenter, doc) == 2
    assert _seen(team.commenter, other) == 9
