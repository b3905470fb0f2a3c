"""The folder, document and trash pages, used as people use them."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.documents.models import Document, Folder, Version
from commonroom.documents.tests.factories import make_folder, new_version, upload
from commonroom.documents.tests.support import multipart
from commonroom.notifications.models import Follow, Notification


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_files(client, url, files, fields=(), json=True):
    body, ctype = multipart(fields, files)
    headers = {"Accept": "application/json"} if json else {}
    return client.post(url, body, content_type=ctype, headers=headers)


def test_several_files_in_one_upload(team):
    folder = make_folder(team.editor, team.workspace, "Board")
    client = client_for(team.editor)
    response = post_files(
        client,
        reverse("upload", args=[team.workspace.pk]),
        [
            ("files", "minutes.txt", b"minutes", "text/plain"),
            ("files", "agenda.txt", b"agenda", "text/plain"),
        ],
        fields=[("folder", str(folder.pk)), ("upload_key", "k1"), ("upload_key", "k2")],
        json=False,
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("folder_detail", args=[team.workspace.pk, folder.pk])
    assert sorted(Document.objects.filter(folder=folder).values_list("name", flat=True)) == [
        "agenda.txt",
        "minutes.txt",
    ]
    page = client.get(response["Location"]).content.decode()
    assert "Uploaded" in page and "agenda.txt" in page and "minutes.txt" in page


def test_the_document_page_lists_versions_newest_first_with_their_facts(team):
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"first", note="Draft for review")
    new_version(team.manager, v1.document, b"second", note="Chair's corrections")

    page = client_for(team.viewer).get(
        reverse("document_detail", args=[team.workspace.pk, v1.document.pk])
    )
    html = page.content.decode()

    assert page.status_code == 200
    assert [int(n) for n in re.findall(r'id="v(\d+)"', html)] == [2, 1]
    for fact in (
        hashlib.sha256(b"first").hexdigest(),
        hashlib.sha256(b"second").hexdigest(),
        "Draft for review",
        "Chair&#x27;s corrections",
        team.manager.display_name,
        team.editor.display_name,
    ):
        assert fact in html
    # a viewer sees no upload, restore or delete controls
    assert "Upload a new version" not in html
    assert "restore_version" not in html


def test_every_version_downloads_with_its_own_bytes(team):
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"first")
    new_version(team.editor, v1.document, b"second")
    client = client_for(team.commenter)
    for number, content in ((1, b"first"), (2, b"second")):
        response = client.get(
            reverse("version_download", args=[team.workspace.pk, v1.document.pk, number])
        )
        assert response.status_code == 200
        assert response.getvalue() == content
        assert response["Digest"] == f"sha-256={hashlib.sha256(content).hexdigest()}"


def test_restoring_through_the_page_adds_a_version(team):
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"first")
    new_version(team.editor, v1.document, b"second")
    client = client_for(team.editor)
    url = reverse("document_action", args=[team.workspace.pk, v1.document.pk])

    response = client.post(url, {"action": "restore_version", "number": "1"}, follow=True)

    assert "Version 1 restored as version 3." in response.content.decode()
    latest = Version.objects.get(document=v1.document, number=3)
    assert (latest.blob_id, latest.restored_from_number) == (v1.blob_id, 1)


SAME_AS_V2 = "This file is the same as version 2, the latest: no new version was made."


def test_a_new_version_identical_to_the_latest_is_explained_on_the_page(team):
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"first")
    new_version(team.editor, v1.document, b"second")
    client = client_for(team.editor)
    url = reverse("version_upload", args=[team.workspace.pk, v1.document.pk])
    files = [("file", "minutes.txt", b"second", "text/plain")]

    # The page's script (Accept: JSON) shows ``detail`` beside the form, the file still chosen.
    response = post_files(client, url, files, fields=[("based_on", "2")])
    assert response.status_code == 409
    assert response.json() == {"code": "same_as_latest", "detail": SAME_AS_V2}

    # Without the script: back to the document page with the sentence as a message.
    response = post_files(client, url, files, fields=[("based_on", "2")], json=False)
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "This file is the same as version 2, the latest: no new version was made." in page
    assert Version.objects.filter(document=v1.document).count() == 2


def test_a_conflicting_rename_is_explained_on_the_page(team):
    upload(team.editor, team.workspace, "agenda.txt", b"a")
    doc = upload(team.editor, team.workspace, "minutes.txt", b"m").document
    client = client_for(team.editor)
    response = client.post(
        reverse("document_action", args=[team.workspace.pk, doc.pk]),
        {"action": "rename", "name": "Agenda.txt"},
        follow=True,
    )
    assert "There is already a document called Agenda.txt here." in response.content.decode()
    assert Document.objects.get(pk=doc.pk).name == "minutes.txt"


def test_moving_a_folder_into_itself_is_explained_on_the_page(team):
    top = make_folder(team.editor, team.workspace, "Top")
    inner = make_folder(team.editor, team.workspace, "Inner", parent=top)
    response = client_for(team.editor).post(
        reverse("folder_action", args=[team.workspace.pk, top.pk]),
        {"action": "move", "parent": str(inner.pk)},
        follow=True,
    )
    assert "A folder cannot be moved inside itself." in response.content.decode()
    assert Folder.objects.get(pk=top.pk).parent_id is None


@pytest.mark.parametrize("role", ["viewer", "commenter"])
def test_people_who_may_not_upload_are_told_so_and_nothing_is_kept(team, store, role):
    before = store.now()
    response = post_files(
        client_for(team.by_role[role]),
        reverse("upload", args=[team.workspace.pk]),
        [("files", "minutes.txt", b"x", "text/plain")],
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert store.now() == before


def test_the_trash_is_for_managers(team):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    client_for(team.editor).post(
        reverse("document_action", args=[team.workspace.pk, doc.pk]), {"action": "delete"}
    )
    url = reverse("trash", args=[team.workspace.pk])
    assert "minutes.txt" in client_for(team.manager).get(url).content.decode()
    assert client_for(team.editor).get(url).status_code == 403
    assert client_for(team.outsider).get(url).status_code == 404
    # an editor cannot purge, whatever they post
    response = client_for(team.editor).post(
        reverse("trash_action", args=[team.workspace.pk, "document", doc.pk]), {"action": "purge"}
    )
    assert response.status_code == 404  # they cannot even see trashed documents
    assert Document.objects.filter(pk=doc.pk).exists()


@pytest.mark.parametrize("role", ["non-member", "anonymous"])
def test_outsiders_reach_nothing(team, role):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    folder = make_folder(team.editor, team.workspace, "Board")
    user = team.by_role[role]
    client = client_for(user) if user else Client()
    ws = team.workspace.pk
    for url in (
        reverse("document_detail", args=[ws, doc.pk]),
        reverse("version_download", args=[ws, doc.pk, 1]),
        reverse("folder_detail", args=[ws, folder.pk]),
        reverse("trash", args=[ws]),
    ):
        response = client.get(url)
        if user is None:
            assert response.status_code == 302 and "login" in response["Location"], url
        else:
            assert response.status_code == 404, url


def test_dropping_files_again_adds_versions_only_for_those_that_changed(team):
    """A folder's files dropped on the workspace again: the changed one becomes a version, the
    unchanged one is left out with a sentence, and a new one is a new document."""
    minutes = upload(team.editor, team.workspace, "minutes.txt", b"first")
    agenda = upload(team.editor, team.workspace, "agenda.txt", b"1. Apologies")
    Follow.objects.create(user=team.viewer, document=agenda.document)
    notes_before = Notification.objects.count()
    client = client_for(team.editor)
    url = reverse("upload", args=[team.workspace.pk])
    files = [
        ("files", "minutes.txt", b"second", "text/plain"),
        ("files", "agenda.txt", b"1. Apologies", "text/plain"),
        ("files", "actions.txt", b"Tom: recovery plan", "text/plain"),
    ]

    response = post_files(client, url, files)

    assert response.status_code == 200
    data = response.json()
    assert [(u["name"], u["version"]) for u in data["uploaded"]] == [
        ("minutes.txt", 2),
        ("actions.txt", 1),
    ]
    assert data["unchanged"] == [
        "agenda.txt: This file is the same as version 1, the latest: no new version was made."
    ]
    assert Version.objects.filter(document=agenda.document).count() == 1
    assert Version.objects.filter(document=minutes.document).count() == 2
    assert Notification.objects.count() == notes_before  # the follower is told of nothing
    page = client.get(data["redirect"]).content.decode()
    assert "Uploaded minutes.txt (version 2), actions.txt (version 1)." in page
    assert "agenda.txt: This file is the same as version 1, the latest" in page

    # Only unchanged files: nothing uploaded, and said so (no "Uploaded" line).
    again = post_files(client, url, files[1:2], json=False)
    assert again.status_code == 302
    page = client.get(again["Location"]).content.decode()
    assert "Uploaded" not in page and "agenda.txt: This file is the same as version 1" in page
