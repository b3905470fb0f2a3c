"""Over WebDAV, reading a document's bytes is a download (decision 27): where the workspace's
setting turns downloading off for someone, GET and COPY of a document are refused with 403 and
a sentence, audited; PROPFIND still lists it, and the document page offers no "Open in Word"."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.audit.models import AuditEvent
from commonroom.documents.models import Document
from commonroom.webdav.tests.client import Dav
from commonroom.workspaces.models import Workspace
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db

WS = "/Weekly budget meeting"


def turn_off(team: Any, **rules: str) -> None:
    Workspace.objects.filter(pk=team.workspace.pk).update(**rules)


def test_get_is_refused_with_a_sentence_and_audited_and_propfind_still_lists(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt", content=b"one")
    turn_off(team, viewers_download="nobody")
    viewer = Dav(team.viewer)

    got = viewer.get(WS + "/minutes.txt")

    assert got.status_code == 403
    assert "viewers cannot download documents" in got.text
    assert b"one" not in got.content
    refused = AuditEvent.objects.get(action="download.refused")
    assert (refused.actor_id, refused.document_id) == (team.viewer.pk, doc.pk)
    assert refused.data["what"] == "version"
    assert not AuditEvent.objects.filter(action="version.downloaded").exists()
    listed = viewer.propfind(WS, "1")
    assert listed.status_code == 207 and "minutes.txt" in listed.text
    # Someone the setting lets download still can.
    assert Dav(team.commenter).get(WS + "/minutes.txt").content == b"one"


def test_a_guest_is_refused_by_the_default_setting(team: Any) -> None:
    upload_document(team.workspace, team.manager, name="minutes.txt", content=b"one")
    team.commenter.kind = "guest"
    team.commenter.api_tokens_allowed = True
    team.commenter.save(update_fields=["kind", "api_tokens_allowed"])

    got = Dav(team.commenter).get(WS + "/minutes.txt")

    assert got.status_code == 403
    assert "external guests who are commenters cannot download" in got.text


def test_copy_is_refused_to_an_editor_who_may_not_download(team: Any) -> None:
    upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")
    turn_off(team, editors_download="nobody")

    got = Dav(team.editor).copy(WS + "/minutes.txt", WS + "/minutes copy.txt")

    assert got.status_code == 403
    assert "editors cannot download documents" in got.text
    assert not Document.objects.filter(name="minutes copy.txt").exists()
    assert AuditEvent.objects.get(action="download.refused").data["what"] == "webdav_copy"


def test_the_document_page_offers_open_in_word_only_to_those_who_may_download(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.docx", content=b"x")
    url = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    turn_off(team, viewers_download="nobody")
    for user, shown in ((team.viewer, False), (team.commenter, True)):
        browser = Client()
        browser.force_login(user)
        page = browser.get(url).content.decode()
        assert ('data-testid="open-in-office"' in page) is shown
        assert ('id="open-with-webdav"' in page) is shown


def test_a_folder_copy_is_refused_before_anything_is_made(team: Any) -> None:
    from commonroom.documents.models import Folder
    from commonroom.documents.tests.factories import make_folder

    papers = make_folder(team.manager, team.workspace, "Papers")
    upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1", folder=papers)
    turn_off(team, editors_download="nobody")

    got = Dav(team.editor).copy(WS + "/Papers", WS + "/Papers copy")

    assert got.status_code == 403
    assert "editors cannot download documents" in got.text
    assert not Folder.objects.filter(name="Papers copy").exists()
    assert Document.objects.filter(name="minutes.txt").count() == 1
    refused = AuditEvent.objects.get(action="download.refused")
    assert refused.data["what"] == "webdav_folder_copy" and refused.target_id == str(papers.pk)
    # Someone who may download copies it whole.
    assert Dav(team.manager).copy(WS + "/Papers", WS + "/Papers copy").status_code == 201
    assert Document.objects.filter(name="minutes.txt").count() == 2


def test_a_document_held_aside_under_a_temporary_name_is_not_a_way_around_the_rule(
    team: Any,
) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.docx", content=b"secret")
    turn_off(team, editors_download="nobody")
    editor = Dav(team.editor)

    assert editor.move(WS + "/minutes.docx", WS + "/~$minutes.tmp").status_code in (201, 204)
    got = editor.get(WS + "/~$minutes.tmp")

    assert got.status_code == 403
    assert "editors cannot download documents" in got.text
    assert b"secret" not in got.content
    refused = AuditEvent.objects.get(action="download.refused")
    assert (refused.actor_id, refused.document_id) == (team.editor.pk, doc.pk)
    assert not AuditEvent.objects.filter(action="version.downloaded").exists()


def test_someone_elses_held_aside_document_is_not_found(team: Any) -> None:
    upload_document(team.workspace, team.manager, name="minutes.docx", content=b"secret")
    assert Dav(team.editor).move(WS + "/minutes.docx", WS + "/~$minutes.tmp").status_code in (
        201,
        204,
    )

    got = Dav(team.commenter).get(WS + "/~$minutes.tmp")

    assert got.status_code == 404
    assert b"secret" not in got.content
    assert not AuditEvent.objects.filter(action="version.downloaded").exists()


def test_reading_a_held_aside_document_is_a_download_recorded_as_one(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.docx", content=b"secret")
    editor = Dav(team.editor)

    assert editor.move(WS + "/minutes.docx", WS + "/~$minutes.tmp").status_code in (201, 204)
    got = editor.get(WS + "/~$minutes.tmp")

    assert got.status_code == 200 and got.content == b"secret"
    downloaded = AuditEvent.objects.get(action="version.downloaded")
    assert (downloaded.actor_id, downloaded.document_id) == (team.editor.pk, doc.pk)
    assert downloaded.data["version"] == 1


def _guest_editor_under_watermarks(team: Any) -> Any:
    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.workspaces.tests.factories import add_member

    guest = UserFactory(email="aisha@guest.example.com", full_name="Aisha Khan", kind="guest")
    add_member(team.workspace, guest, "editor")
    Workspace.objects.filter(pk=team.workspace.pk).update(
        editors_download="everyone", watermark_guest_downloads=True, guests_may_create_tokens=True
    )
    return guest


def test_a_guests_folder_copy_holding_a_pdf_is_refused_before_anything_is_made(
    team: Any,
) -> None:
    from commonroom.documents.models import Folder
    from commonroom.documents.tests.factories import make_folder

    papers = make_folder(team.manager, team.workspace, "Papers")
    upload_document(team.workspace, team.manager, name="notes.txt", content=b"v1", folder=papers)
    upload_document(
        team.workspace, team.manager, name="minutes.pdf", content=b"%PDF-1.4\n", folder=papers
    )
    guest = _guest_editor_under_watermarks(team)

    got = Dav(guest).copy(WS + "/Papers", WS + "/Papers copy")

    assert got.status_code == 403
    assert "download it from the document's page" in got.text
    assert not Folder.objects.filter(name="Papers copy").exists()
    assert Document.objects.filter(name="notes.txt").count() == 1
    refused = AuditEvent.objects.get(action="download.refused")
    assert refused.data["what"] == "webdav_folder_copy"
    assert refused.data["reason"] == "watermarked"
    assert refused.target_id == str(papers.pk)


def test_a_guests_watermarked_pdf_refused_over_webdav_is_audited(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.pdf", content=b"%PDF-1.4\n")
    guest = _guest_editor_under_watermarks(team)
    dav = Dav(guest)

    assert dav.get(WS + "/minutes.pdf").status_code == 403
    assert dav.copy(WS + "/minutes.pdf", WS + "/copy.pdf").status_code == 403

    refused = list(AuditEvent.objects.filter(action="download.refused").order_by("pk"))
    assert [r.data["what"] for r in refused] == ["version", "webdav_copy"]
    assert all(r.data["reason"] == "watermarked" for r in refused)
    assert all((r.actor_id, r.document_id) == (guest.pk, doc.pk) for r in refused)
    assert not Document.objects.filter(name="copy.pdf").exists()
    assert not AuditEvent.objects.filter(action="version.downloaded").exists()
