"""What the folder and document pages cost as the data grows: a listing read in its shown order
from an index (SQLite and PostgreSQL), a document page read again that writes nothing (its view
audited once per person, version and ten minutes, its "seen" mark already there), and the
workspace's members read once however many parts of the page show them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from commonroom.audit.actions import Action
from commonroom.audit.models import AuditEvent, ReadingAudited
from commonroom.documents.models import Document
from commonroom.documents.selectors import folder_documents, folder_listing
from commonroom.documents.tests.factories import make_folder, new_version, upload
from commonroom.notifications.models import DocumentSeen
from commonroom.workspaces.selectors import workspace_access

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE", "BEGIN", "SAVEPOINT")


def _views(document: Document) -> int:
    return AuditEvent.objects.filter(
        action=Action.DOCUMENT_VIEWED, target_id=str(document.pk)
    ).count()


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"][:90] for q in queries.captured_queries if q["sql"].startswith(WRITES)]


def test_a_document_page_read_again_writes_nothing_and_is_audited_again_after_the_window(
    client: Any, team: Any
) -> None:
    version = upload(team.editor, team.workspace, "minutes.txt", b"one")
    doc = version.document
    url = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    client.force_login(team.viewer)
    assert client.get(url).status_code == 200
    assert _views(doc) == 1
    seen = DocumentSeen.objects.get(user=team.viewer, document=doc)
    assert seen.version_number == 1

    with CaptureQueriesContext(connection) as again:
        assert client.get(url).status_code == 200
    assert _writes(again) == []
    assert _views(doc) == 1

    # Past the window the next view is audited again, as before.
    ReadingAudited.objects.filter(actor_id=team.viewer.pk).update(
        audited_at=timezone.now() - timedelta(minutes=11)
    )
    assert client.get(url).status_code == 200
    assert _views(doc) == 2

    # A new version is a new reading and a new "seen" mark.
    new_version(team.editor, doc, b"two")
    assert client.get(url).status_code == 200
    assert _views(doc) == 3
    seen.refresh_from_db()
    assert seen.version_number == 2


def test_the_document_page_reads_the_members_once_for_approvers_and_readers(
    client: Any, team: Any
) -> None:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"one").document
    url = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    client.force_login(team.manager)
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    # Both parts that list the members are drawn, each with every member (the approvers: all
    # but the viewer, who may not approve).
    assert response.content.decode().count('id="approver-') == 3
    readers = response.context["readers"]
    assert len(readers.read) + len(readers.unread) == team.workspace.memberships.count()
    # Every read of the workspace's members, whatever its columns; one person's own membership
    # (the access check) is not a list of members.
    members = [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "workspaces_membership"' in q["sql"]
        and '"workspaces_membership"."user_id" = ' not in q["sql"]
    ]
    assert len(members) == 1, members


def _plan(page: Any) -> str:
    """The database's plan for ``page``; on PostgreSQL with sorting and whole-table scans
    made as dear as they can be, so that a few test rows do not make them the cheaper plan
    (a sort is left in the plan only when no index gives the order)."""
    if connection.vendor != "postgresql":
        return str(page.explain())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        return str(page.explain())


@pytest.mark.parametrize("selector", [folder_documents, folder_listing], ids=["whole", "listing"])
@pytest.mark.parametrize("in_folder", [False, True], ids=["top level", "in a folder"])
def test_a_folders_listing_is_read_in_its_order_from_an_index(
    team: Any, in_folder: bool, selector: Any
) -> None:
    folder = make_folder(team.editor, team.workspace, "Papers") if in_folder else None
    for name in ("b.txt", "a.txt", "c.txt"):
        upload(team.editor, team.workspace, name, name.encode(), folder=folder)
    access = workspace_access(user=team.viewer, workspace_id=team.workspace.pk)
    if selector is folder_listing:
        page = folder_listing(access=access, folder=folder, reader=team.viewer)[:100]
    else:
        page = selector(access=access, folder=folder)[:100]
    plan = _plan(page)
    index = "doc_in_folder_by_name" if in_folder else "doc_top_level_by_name"
    assert index in plan, plan
    # No sort of the whole folder for one page of it.
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
    assert [d.name for d in page] == ["a.txt", "b.txt", "c.txt"]


# A folder's page, signed in: the session, the person, the live cursor, their membership; the
# count, the page of documents with their latest versions (and what the reader last read of
# each); the WebDAV locks of the workspace; the header's unread notifications and messages;
# the folder's folders. Fewer is better; more, or more as the workspace grows, is a bug.
FOLDER_PAGE_STATEMENTS = 10


def test_a_folders_page_is_a_fixed_number_of_statements_however_much_it_holds(
    client: Any, team: Any
) -> None:
    from commonroom.webdav.models import DavLock
    from commonroom.webdav.names import lock_key

    url = reverse("workspace_detail", args=[team.workspace.pk])
    upload(team.editor, team.workspace, "a.txt", b"a")
    client.force_login(team.viewer)
    client.get(url)  # the first request after signing in records the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    assert len(few) == FOLDER_PAGE_STATEMENTS, [q["sql"][:80] for q in few.captured_queries]

    papers = make_folder(team.editor, team.workspace, "Papers")
    for i in range(30):
        v = upload(team.editor, team.workspace, f"doc-{i:02d}.txt", f"{i}".encode())
        new_version(team.editor, v.document, f"{i}-2".encode())
        upload(team.editor, team.workspace, f"inside-{i:02d}.txt", b"x", folder=papers)
    # A lock elsewhere in the workspace (inside a folder) holds nothing listed here.
    DavLock.objects.create(
        token="opaquelocktoken:elsewhere",
        root=lock_key(team.workspace.pk, ["Papers", "inside-01.txt"]),
        user=team.editor,
        workspace=team.workspace,
        scope="exclusive",
        depth="0",
        timeout=600,
        expire_at=timezone.now() + timedelta(minutes=10),
    )
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == FOLDER_PAGE_STATEMENTS, [q["sql"][:80] for q in many.captured_queries]
