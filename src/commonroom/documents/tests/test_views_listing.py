"""The folder listing: latest version per document, pages of documents, a bounded query count,
and moving a folder from its page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commonroom.documents.models import Folder
from commonroom.documents.tests.factories import make_folder, new_version, upload
from commonroom.documents.views import PAGE_SIZE

pytestmark = pytest.mark.django_db


def listing(client, team, folder=None, page=None):
    if "_auth_user_id" not in client.session:
        client.force_login(team.viewer)
    if folder is None:
        url = reverse("workspace_detail", args=[team.workspace.pk])
    else:
        url = reverse("folder_detail", args=[team.workspace.pk, folder.pk])
    return client.get(url, {"page": page} if page else {})


def test_listing_shows_each_documents_latest_version(client, team):
    v1 = upload(team.editor, team.workspace, "minutes.docx", b"one")
    new_version(team.editor, v1.document, b"two")
    new_version(team.manager, v1.document, b"three")
    response = listing(client, team)
    assert response.status_code == 200
    [doc] = response.context["documents"]
    assert doc.current_version_number == 3
    assert doc.latest is not None
    assert doc.latest.size == len(b"three")
    assert doc.latest.author_name == team.manager.display_name
    assert f"by {team.manager.display_name}" in response.content.decode()


def test_query_count_does_not_grow_with_documents_or_versions(client, team):
    first = upload(team.editor, team.workspace, "a.txt", b"a")
    client.force_login(team.viewer)
    listing(client, team)  # the first request after sign-in records the session
    with CaptureQueriesContext(connection) as few:
        assert listing(client, team).status_code == 200
    for i in range(12):
        v = upload(team.editor, team.workspace, f"doc-{i}.txt", f"{i}".encode())
        new_version(team.editor, v.document, f"{i}-2".encode())
    new_version(team.editor, first.document, b"a2")
    with CaptureQueriesContext(connection) as many:
        assert listing(client, team).status_code == 200
    assert len(many) == len(few), "\n".join(
        [q["sql"][:90] for q in few.captured_queries]
        + ["---"]
        + [q["sql"][:90] for q in many.captured_queries]
    )


def test_documents_come_a_page_at_a_time(client, team, settings):
    names = [f"paper-{i:03d}.txt" for i in range(PAGE_SIZE + 3)]
    for name in names:
        upload(team.editor, team.workspace, name, name.encode())
    make_folder(team.editor, team.workspace, "Papers")

    first = listing(client, team)
    assert [d.name for d in first.context["documents"]] == names[:PAGE_SIZE]
    assert [f.name for f in first.context["folders"]] == ["Papers"]
    assert b"Documents 1 to 100 of 103" in first.content

    second = listing(client, team, page=2)
    assert [d.name for d in second.context["documents"]] == names[PAGE_SIZE:]
    assert list(second.context["folders"]) == []


def test_the_count_of_a_listing_follows_each_write_made_straight_in_the_database(
    client, team, monkeypatch
):
    """The "Documents 1 to 3 of N" count (its SQL built once per process, ``core.prepared``)
    is read again on every page, so a document added, deleted, restored or moved by another
    process (straight through the ORM, no signal) is counted on the next page read; the last
    page, one past it and an empty folder stay right."""
    from django.utils import timezone

    from commonroom.documents.models import Document

    monkeypatch.setattr("commonroom.documents.views.PAGE_SIZE", 3)
    papers = make_folder(team.editor, team.workspace, "Papers")
    empty = listing(client, team, folder=papers)
    assert b"Nothing here yet." in empty.content and b"Documents 1 to" not in empty.content
    docs = [upload(team.editor, team.workspace, f"p-{i}.txt", b"x").document for i in range(7)]

    def said(folder=None, page=None) -> tuple[str, list[str]]:
        response = listing(client, team, folder=folder, page=page)
        text = response.content.decode()
        found = text[text.find("Documents ") :].split("</p>")[0] if "Documents " in text else ""
        return found, [d.name for d in response.context["documents"]]

    assert said() == ("Documents 1 to 3 of 7", ["p-0.txt", "p-1.txt", "p-2.txt"])
    assert said(page=3) == ("Documents 7 to 7 of 7", ["p-6.txt"])
    assert said(page=9) == ("Documents 7 to 7 of 7", ["p-6.txt"])  # past the end: the last
    Document.objects.create(workspace=team.workspace, name="p-7.txt", created_by=team.editor)
    assert said(page=3) == ("Documents 7 to 8 of 8", ["p-6.txt", "p-7.txt"])
    Document.objects.filter(pk=docs[0].pk).update(deleted_at=timezone.now())
    assert said() == ("Documents 1 to 3 of 7", ["p-1.txt", "p-2.txt", "p-3.txt"])
    Document.objects.filter(pk=docs[0].pk).update(deleted_at=None)
    assert said()[0] == "Documents 1 to 3 of 8"
    Document.objects.filter(pk__in=[d.pk for d in docs[:4]]).update(folder=papers)
    assert said() == ("Documents 1 to 3 of 4", ["p-4.txt", "p-5.txt", "p-6.txt"])
    assert said(papers, 2) == ("Documents 4 to 4 of 4", ["p-3.txt"])
    Document.objects.filter(pk=docs[1].pk).update(deleted_at=timezone.now())
    assert said(papers) == ("", ["p-0.txt", "p-2.txt", "p-3.txt"])  # one page: no count


def test_folder_is_moved_from_its_page(client, team):
    minutes = make_folder(team.editor, team.workspace, "Minutes")
    archive = make_folder(team.editor, team.workspace, "Archive")
    client.force_login(team.editor)
    page = client.get(reverse("folder_detail", args=[team.workspace.pk, minutes.pk]))
    choices = [f.name for f, _ in page.context["move_choices"]]
    assert choices == ["Archive"]  # never itself
    response = client.post(
        reverse("folder_action", args=[team.workspace.pk, minutes.pk]),
        {"action": "move", "parent": str(archive.pk)},
    )
    assert response.status_code == 302
    assert Folder.objects.get(pk=minutes.pk).parent_id == archive.pk


def test_a_documents_move_form_offers_every_folder_with_its_own_chosen(client, team):
    minutes = make_folder(team.editor, team.workspace, "Minutes")
    make_folder(team.editor, team.workspace, "Archive")
    doc = upload(team.editor, team.workspace, "agenda.txt", b"Agenda", folder=minutes).document
    page = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    client.force_login(team.editor)
    html = client.get(page).content.decode()
    assert f'<option value="{minutes.pk}" selected>Minutes</option>' in html
    assert ">Archive</option>" in html
    # Who may not move it is offered no form at all.
    client.force_login(team.commenter)
    assert 'id="doc-folder"' not in client.get(page).content.decode()


def test_trash_action_with_an_unknown_kind_is_not_found(client, team):
    client.force_login(team.manager)
    folder = make_folder(team.editor, team.workspace, "Old")
    response = client.post(
        reverse("trash_action", args=[team.workspace.pk, "workspace", folder.pk]),
        {"action": "purge"},
    )
    assert response.status_code == 404
    assert Folder.objects.filter(pk=folder.pk).exists()


def test_a_number_that_is_not_decimal_is_not_a_crash(client, team):
    v = upload(team.editor, team.workspace, "minutes.txt", b"one")
    client.force_login(team.editor)
    response = client.post(
        reverse("document_action", args=[team.workspace.pk, v.document_id]),
        {"action": "restore_version", "number": "\u00b2"},
    )
    assert response.status_code == 404
    assert v.document.versions.count() == 1


def test_one_bad_name_among_several_files_stores_none_of_them(client, team, store):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(team.editor)
    before = store.now()
    response = client.post(
        reverse("upload", args=[team.workspace.pk]),
        {
            "files": [
                SimpleUploadedFile("agenda.txt", b"fine"),
                SimpleUploadedFile("...", b"no usable name"),
            ]
        },
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_filename"
    assert store.now() == before


def test_new_since_read_is_the_newest_version_the_reader_read_against_the_current(team):
    """Each listed document is new to its reader when its current version is newer than the
    newest they read of it (``last_read_numbers``), read in the listing's own query."""
    from commonroom.documents.models import ReadBy, VersionRead
    from commonroom.documents.selectors import folder_listing_page, last_read_numbers
    from commonroom.documents.tests.factories import access_for

    def read(user, version):
        VersionRead.objects.create(
            version=version, document=version.document, reader=user, read_by=ReadBy.DOWNLOAD
        )

    three = upload(team.editor, team.workspace, "a.txt", b"1")
    new_version(team.editor, three.document, b"2")
    new_version(team.editor, three.document, b"3")
    once = upload(team.editor, team.workspace, "b.txt", b"1")
    latest = upload(team.editor, team.workspace, "c.txt", b"1")
    upload(team.editor, team.workspace, "d.txt", b"never read")
    read(team.viewer, three.document.versions.get(number=2))
    read(team.viewer, three.document.versions.get(number=1))
    read(team.viewer, once)
    new_version(team.editor, once.document, b"2")
    read(team.viewer, latest)
    read(team.commenter, three.document.versions.get(number=3))  # someone else's reading

    for user in (team.viewer, team.commenter, team.manager):
        access = access_for(user, team.workspace)
        rows = list(
            folder_listing_page(access=access, folder=None, reader=user, number=1, per_page=100)
        )
        last = last_read_numbers(user=user, documents=rows)
        assert {r.name: r.new_since_read for r in rows} == {
            r.name: r.pk in last and last[r.pk] < r.current_version_number for r in rows
        }
    viewer_rows = folder_listing_page(
        access=access_for(team.viewer, team.workspace),
        folder=None,
        reader=team.viewer,
        number=1,
        per_page=100,
    )
    assert [r.name for r in viewer_rows if r.new_since_read] == ["a.txt", "b.txt"]


def test_the_trash_page_shows_who_deleted_what_in_the_same_queries_however_much(client, team):
    """The trash page shows each item's name, when and by whom it was deleted: read with the
    items, nothing else of them (their versions are not read), whatever is in the trash."""
    from commonroom.documents import services
    from commonroom.documents.tests.factories import doc_access_for

    def trash(name: str) -> None:
        doc = upload(team.editor, team.workspace, name, name.encode()).document
        new_version(team.editor, doc, b"again")
        services.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, doc))

    url = reverse("trash", args=[team.workspace.pk])
    client.force_login(team.manager)
    trash("first.txt")
    client.get(url)  # the first request after sign-in records the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for i in range(5):
        trash(f"paper-{i}.txt")
    with CaptureQueriesContext(connection) as many:
        page = client.get(url)
    assert len(many) == len(few)
    assert not [q for q in many.captured_queries if "documents_version" in q["sql"]]
    shown = page.content.decode()
    for name in ["first.txt", *(f"paper-{i}.txt" for i in range(5))]:
        assert name in shown
    assert shown.count(f"by {team.manager.display_name}") == 6
