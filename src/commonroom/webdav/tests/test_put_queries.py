"""What a small PUT costs in SQL, pinned: a new name and a new version over an existing
document, each the whole upload (the bytes hashed and stored, the version, its audit row, the
live event, following and the follower's notification, the search entry, the preview's rows
and its task), so the count cannot grow back unnoticed (docs/benchmarks.md, WebDAV).

The preview task is queued as a served installation queues it (the database's task queue),
not run in the request as the other tests run it. When a change adds a statement on purpose,
raise the figure here and say why in its commit; when one takes one away, lower it."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from commonroom.audit.models import AuditEvent
from commonroom.documents.models import Document
from commonroom.live.models import Event
from commonroom.notifications.models import Follow, Notification
from commonroom.previews.models import Preview, WorkspacePreview
from commonroom.search.models import SearchEntry
from commonroom.webdav.models import ScratchFile
from commonroom.webdav.tests.client import Dav
from commonroom.workspaces.tests.factories import upload_document

# Committed for real, as served: a request's transactions and what runs after their commit.
pytestmark = pytest.mark.django_db(transaction=True)

WS = "/Weekly budget meeting"

# SQL statements per PUT, transaction control (BEGIN, COMMIT, savepoints) included. On
# PostgreSQL the search entry's vector is written by the statement that writes the entry. Over
# an existing document, whether a lock holds it is one read of the workspace's live locks when
# it holds none (``selectors.document_locks``), not the names of the folder's children first.
NEW_NAME = {"sqlite": 33, "postgresql": 33}
EXISTING = {"sqlite": 44, "postgresql": 44}


@pytest.fixture
def served_tasks(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def _put(client: Dav, path: str, content: bytes) -> tuple[int, list[str]]:
    # The request's start empties the connection's log (Django's ``reset_queries``): empty it
    # first too, so that what is captured is counted from nothing, whatever ran before.
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        status = client.put(path, content).status_code
    return status, [q["sql"] for q in queries.captured_queries]


def _warm(tom: Dav) -> None:
    """The person's first PUT records their token's use; the figures are for the next ones."""
    assert tom.put(WS + "/warm-up.txt", b"warm").status_code == 201


def test_a_small_put_of_a_new_name_is_a_whole_upload_in_few_queries(
    team: Any, served_tasks: None
) -> None:
    tom = Dav(team.editor)
    _warm(tom)
    status, sql = _put(tom, WS + "/notes.txt", b"Notes of the weekly meeting.\n" * 100)
    assert status == 201
    doc = Document.objects.get(name="notes.txt")
    version = doc.versions.get()
    assert AuditEvent.objects.filter(action="document.uploaded", document_id=doc.pk).exists()
    assert Event.objects.filter(kind="version.created", data__document=str(doc.pk)).exists()
    assert Follow.objects.filter(user=team.editor, document=doc).exists()
    assert SearchEntry.objects.filter(kind="document", object_id=str(doc.pk)).exists()
    assert Preview.objects.filter(blob_id=version.blob_id, status="pending").exists()
    assert WorkspacePreview.objects.filter(blob_id=version.blob_id).exists()
    assert DBTaskResult.objects.filter(args_kwargs__args__0=version.blob_id).exists()
    assert not ScratchFile.objects.exists()
    assert len(sql) == NEW_NAME[connection.vendor], "\n".join(sql)


def test_a_small_put_over_a_document_is_a_whole_version_in_few_queries(
    team: Any, served_tasks: None
) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")
    tom = Dav(team.editor)
    _warm(tom)
    status, sql = _put(tom, WS + "/minutes.txt", b"Minutes, second draft.\n" * 100)
    assert status == 204
    version = doc.versions.get(number=2)
    assert version.author == team.editor
    assert AuditEvent.objects.filter(action="version.uploaded", document_id=doc.pk).exists()
    assert Event.objects.filter(kind="version.created", data__document=str(doc.pk)).exists()
    assert Notification.objects.filter(recipient=team.manager, document_id=doc.pk).exists()
    assert DBTaskResult.objects.filter(args_kwargs__args__0=version.blob_id).exists()
    assert len(sql) == EXISTING[connection.vendor], "\n".join(sql)
