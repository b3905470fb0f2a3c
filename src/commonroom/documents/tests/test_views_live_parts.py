"""The parts of a page its script replaces when a live event says something on it changed:
a folder's breadcrumbs, heading and listing; a document's breadcrumbs and heading; the trash.
Each is asked like the page (the same access rules) and drawn as the asker may see it."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client
from django.urls import reverse

from commonroom.audit.models import AuditEvent
from commonroom.documents import services
from commonroom.documents.models import Document
from commonroom.documents.tests.factories import access_for, doc_access_for, make_folder, upload

PARTS = {"HX-Request": "true"}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def part_ids(html: str) -> list[str]:
    return re.findall(r'id="(cr-[a-z]+)" data-live-part', html)


def test_a_folders_parts_show_it_as_it_is_now_and_nothing_else(team: Any) -> None:
    board = make_folder(team.editor, team.workspace, "Board")
    papers = make_folder(team.editor, team.workspace, "Papers", parent=board)
    upload(team.editor, team.workspace, "minutes.txt", b"m", folder=papers)
    url = reverse("folder_detail", args=[team.workspace.pk, papers.pk])
    viewer = client_for(team.viewer)
    html = viewer.get(url, headers=PARTS).content.decode()
    assert part_ids(html) == ["cr-breadcrumbs", "cr-title", "cr-listing"]
    assert "<html" not in html and "<form" not in html
    assert "minutes.txt" in html and ">Board</a>" in html
    # The folders it is in, for the script to tell whether a change concerns it.
    assert f'data-live-path="{board.pk} {papers.pk} "' in html
    assert f'data-live-folder="{papers.pk}"' in html

    services.folder_rename(
        actor=team.editor,
        access=access_for(team.editor, team.workspace),
        folder=board,
        name="Board papers",
    )
    html = viewer.get(url, headers=PARTS).content.decode()
    assert ">Board papers</a>" in html
    assert f'data-live-title="Papers \u2013 {team.workspace.name} \u2013 Commonroom"' in html
    # The whole page is the same page as before.
    page = viewer.get(url).content.decode()
    assert "<html" in page and part_ids(page) == ["cr-breadcrumbs", "cr-title", "cr-listing"]


def test_asking_for_the_parts_does_not_take_a_message_meant_for_the_next_page(team: Any) -> None:
    client = client_for(team.editor)
    url = reverse("workspace_detail", args=[team.workspace.pk])
    response = client.post(
        reverse("folder_create", args=[team.workspace.pk]), {"name": "Budget", "parent": ""}
    )
    assert response.status_code == 302
    # Another change arrives live before the browser follows the redirect.
    parts = client.get(url, headers=PARTS).content.decode()
    assert "Budget" in parts and "created." not in parts
    assert "Folder “Budget” created." in client.get(response["Location"]).content.decode()


def test_a_documents_heading_names_it_and_its_place_unaudited_and_only_for_members(
    team: Any,
) -> None:
    board = make_folder(team.editor, team.workspace, "Board")
    doc = upload(team.editor, team.workspace, "minutes.txt", b"m", folder=board).document
    url = reverse("document_heading", args=[team.workspace.pk, doc.pk])
    viewer = client_for(team.viewer)
    audited = AuditEvent.objects.count()
    html = viewer.get(url).content.decode()
    # Its final record's part is there, empty until it is sealed.
    assert part_ids(html) == ["cr-breadcrumbs", "cr-title", "cr-record"]
    assert "Final record" not in html
    assert ">minutes.txt</h1>" in html and ">Board</a>" in html
    assert f'data-live-document="{doc.pk}"' in html
    assert AuditEvent.objects.count() == audited  # its name and place, not its content
    assert client_for(team.outsider).get(url).status_code == 404
    services.document_delete(actor=team.editor, doc_access=doc_access_for(team.editor, doc))
    assert viewer.get(url).status_code == 404


def test_the_trash_parts_list_what_is_in_it_now(team: Any) -> None:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"m").document
    url = reverse("trash", args=[team.workspace.pk])
    manager = client_for(team.manager)
    html = manager.get(url, headers=PARTS).content.decode()
    assert part_ids(html) == ["cr-trash"] and "The trash is empty." in html
    services.document_delete(actor=team.editor, doc_access=doc_access_for(team.editor, doc))
    html = manager.get(url, headers=PARTS).content.decode()
    assert "minutes.txt" in html and "<html" not in html
    assert client_for(team.viewer).get(url, headers=PARTS).status_code == 403
    assert Document.objects.get(pk=doc.pk).in_trash
