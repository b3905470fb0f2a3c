"""What a small API upload costs in SQL, pinned: a new document and a new version of a document
someone else follows, each the whole upload (the bytes hashed and stored, the version, its audit
row, the live event, following and the follower's notification, the search entry, the preview's
rows and its task), so the count cannot grow back unnoticed (docs/benchmarks.md, small uploads),
and its commits (each one an fsync): the blob's claim, then the version's transaction, which
holds the preview's task too.

The preview task is queued as a served installation queues it (the database's task queue), not
run in the request as the other tests run it. When a change adds a statement on purpose, raise
the figure here and say why in its commit; when one takes one away, lower it."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from api_support import API, bearer, ws_url
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from commonroom.audit.models import AuditEvent
from commonroom.documents.models import Document
from commonroom.live.models import Event
from commonroom.notifications.models import Follow, Notification
from commonroom.previews.models import Preview, WorkspacePreview
from commonroom.search.models import SearchEntry
from commonroom.workspaces.tests.factories import upload_document

# Committed for real, as served: a request's transactions and what runs after their commit.
pytestmark = pytest.mark.django_db(transaction=True)

# SQL statements per upload, transaction control (BEGIN, COMMIT, savepoints) included. On
# PostgreSQL the search entry's vector is written by the statement that writes the entry. A new
# version asks whether a WebDAV lock holds its document with one read of the workspace's live
# locks when none is held.
NEW_DOCUMENT = {"sqlite": 22, "postgresql": 22}
NEW_VERSION = {"sqlite": 33, "postgresql": 33}


@pytest.fixture
def served_tasks(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def _post(client: Any, url: str, name: str, content: bytes) -> tuple[Any, list[str]]:
    # The request's start empties the connection's log (Django's ``reset_queries``): empty it
    # first too, so that what is captured is counted from nothing, whatever ran before.
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, {"file": SimpleUploadedFile(name, content)})
    return response, [q["sql"] for q in queries.captured_queries]


def _commits(sql: list[str]) -> list[str]:
    """The writes that commit on their own or end a transaction, in order: a statement outside
    any transaction (autocommit) or a transaction's COMMIT."""
    ends: list[str] = []
    inside = False
    for statement in sql:
        word = statement.split(None, 1)[0].upper()
        if word == "BEGIN":
            inside = True
        elif word == "COMMIT":
            inside = False
            ends.append("COMMIT")
        elif not inside and word in ("INSERT", "UPDATE", "DELETE"):
            ends.append(statement.split("(", 1)[0].strip())
    return ends


def _warm(client: Any) -> None:
    """The token's first use is recorded; the figures are for the requests after it."""
    assert client.get(f"{API}/me").status_code == 200


def test_a_small_upload_of_a_new_document_is_a_whole_upload_in_few_queries(
    team: Any, served_tasks: None
) -> None:
    tom = bearer(team.editor)
    _warm(tom)
    content = b"Notes of the weekly meeting.\n" * 100
    response, sql = _post(tom, ws_url(team.workspace, "/documents"), "notes.txt", content)
    assert response.status_code == 201, response.content[:300]
    assert response.json()["version"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert response.json()["document"]["abilities"]["upload_version"] is True
    doc = Document.objects.get(name="notes.txt")
    version = doc.versions.get()
    assert AuditEvent.objects.filter(action="document.uploaded", document_id=doc.pk).exists()
    assert Event.objects.filter(kind="version.created", data__document=str(doc.pk)).exists()
    assert Follow.objects.filter(user=team.editor, document=doc).exists()
    assert SearchEntry.objects.filter(kind="document", object_id=str(doc.pk)).exists()
    assert Preview.objects.filter(blob_id=version.blob_id, status="pending").exists()
    assert WorkspacePreview.objects.filter(blob_id=version.blob_id).exists()
    assert DBTaskResult.objects.filter(args_kwargs__args__0=version.blob_id).exists()
    assert len(sql) == NEW_DOCUMENT[connection.vendor], "\n".join(sql)
    # Two commits, each fsynced: the blob's claim (before its file is written), then the
    # version with everything that follows it, its preview task among them.
    assert _commits(sql) == ['INSERT INTO "documents_blob"', "COMMIT"], _commits(sql)


def test_a_small_upload_of_a_new_version_is_a_whole_version_in_few_queries(
    team: Any, served_tasks: None
) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")
    tom = bearer(team.editor)
    _warm(tom)
    content = b"Minutes, second draft.\n" * 100
    url = ws_url(team.workspace, f"/documents/{doc.pk}/versions")
    response, sql = _post(tom, url, "minutes.txt", content)
    assert response.status_code == 201, response.content[:300]
    assert response.json()["number"] == 2
    version = doc.versions.get(number=2)
    assert version.author == team.editor
    assert AuditEvent.objects.filter(action="version.uploaded", document_id=doc.pk).exists()
    assert Event.objects.filter(kind="version.created", data__document=str(doc.pk)).exists()
    assert Notification.objects.filter(recipient=team.manager, document_id=doc.pk).exists()
    assert SearchEntry.objects.filter(kind="document", object_id=str(doc.pk)).exists()
    assert DBTaskResult.objects.filter(args_kwargs__args__0=version.blob_id).exists()
    assert len(sql) == NEW_VERSION[connection.vendor], "\n".join(sql)
    assert _commits(sql) == ['INSERT INTO "documents_blob"', "COMMIT"], _commits(sql)
