"""A final record's certificate: made from the approval's own rows, signed by the installation,
kept so every download is the same file, audited, and refused for a version that is not a
record or to someone who may not download."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from commonroom.accounts.services import token_create
from commonroom.approvals.records import record_certificate
from commonroom.approvals.tests.test_services import access, ask, decide
from commonroom.audit.models import AuditEvent
from commonroom.certificates.signing import verify
from commonroom.core.exceptions import Conflict, NotFound
from commonroom.documents.tests.factories import upload
from commonroom.suggestions.tests.factories import make_preview

pytestmark = pytest.mark.django_db


@pytest.fixture
def sealed(team: Any) -> Any:
    """Version 2 of the minutes, approved by the editor and the commenter: a final record."""
    upload(team.manager, team.workspace, "minutes.txt", b"Draft.")
    version = upload(team.manager, team.workspace, "minutes.txt", b"The board agreed the budget.")
    make_preview(version)
    doc = version.document
    request = ask(team, doc, team.editor, team.commenter, message="For the record")
    decide(team.editor, doc, request)
    decide(team.commenter, doc, request)
    doc.refresh_from_db()
    assert doc.sealed_version_id == version.pk
    return doc


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_certificate_is_signed_names_every_decision_and_is_kept(team, sealed, tmp_path):
    made = record_certificate(actor=team.viewer, doc_access=access(team.viewer, sealed), number=2)
    assert made.filename == "minutes.txt (version 2 certificate).pdf"
    checked = verify(made.data)
    assert checked.ok, checked.problems
    version = sealed.versions.get(number=2)
    assert (checked.document_id, checked.version_number, checked.sha256) == (
        str(sealed.pk),
        2,
        version.blob_id,
    )
    words = " ".join(text_of(made.data).split())
    assert "The board agreed the budget." in words  # the record itself, from its preview
    assert version.blob_id in words.replace(" ", "")  # printed whole (wrapped or not)
    assert "Priya Shah" in words and "Approved" in words
    # The same file every time.
    again = record_certificate(actor=team.editor, doc_access=access(team.editor, sealed), number=2)
    assert again.data == made.data
    assert AuditEvent.objects.filter(action="record.certificate_downloaded").count() == 2
    # The operator's check agrees; one changed byte breaks it.
    good = tmp_path / "good.pdf"
    good.write_bytes(made.data)
    call_command("record", "verify", str(good))
    broken = bytearray(made.data)
    middle = len(broken) // 3
    broken[middle] = (broken[middle] + 1) % 256
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(broken))
    with pytest.raises(SystemExit) as failed:
        call_command("record", "verify", str(tampered))
    assert failed.value.code == 1


def test_a_version_that_is_not_a_record_has_no_certificate(team, sealed):
    with pytest.raises(Conflict, match="Version 1 is not a final record"):
        record_certificate(actor=team.manager, doc_access=access(team.manager, sealed), number=1)
    with pytest.raises(NotFound):
        record_certificate(actor=team.manager, doc_access=access(team.manager, sealed), number=9)


def test_the_page_and_the_api_send_it_as_an_attachment_and_a_non_member_gets_404(team, sealed):
    url = reverse("record_certificate", args=[sealed.workspace_id, sealed.pk, 2])
    browser = Client()
    browser.force_login(team.viewer)
    page = browser.get(reverse("document_detail", args=[sealed.workspace_id, sealed.pk]))
    assert url in page.content.decode()
    got = browser.get(url)
    assert got.status_code == 200 and got["Content-Type"] == "application/pdf"
    assert got["Content-Disposition"].startswith("attachment;")
    assert got["Content-Security-Policy"] == "sandbox"
    assert got["Cross-Origin-Resource-Policy"] == "same-origin"
    assert got["X-Content-Type-Options"] == "nosniff"
    assert verify(got.content).ok
    outsider = Client()
    outsider.force_login(team.outsider)
    assert outsider.get(url).status_code == 404
    secret = token_create(actor=team.commenter, name="t").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    base = f"/api/v1/workspaces/{sealed.workspace_id}/documents/{sealed.pk}/versions"
    assert verify(api.get(f"{base}/2/certificate").content).ok
    refused = api.get(f"{base}/1/certificate")
    assert refused.status_code == 409 and refused.json()["code"] == "not_a_record"


def test_sealing_makes_the_certificate_in_the_background_and_downloads_send_that_file(
    team, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    from commonroom.approvals.records import certificate_prepare

    version = upload(team.manager, team.workspace, "board.txt", b"Agreed.")
    doc = version.document
    request = ask(team, doc, team.editor)
    with django_capture_on_commit_callbacks(execute=True):  # the task runs at once in tests
        decide(team.editor, doc, request)
    name = f"certificates/{request.pk}.pdf"
    assert default_storage.exists(name)
    with default_storage.open(name, "rb") as f:
        kept = f.read()
    assert verify(kept).ok
    assert certificate_prepare(request_id=request.pk) is False  # made once
    got = record_certificate(actor=team.editor, doc_access=access(team.editor, doc), number=1)
    assert got.data == kept


def test_the_certificate_is_a_download_refused_where_downloading_is_off(team, sealed):
    """Its pages are the record's own: those who may not download the document are not
    offered it, and are refused it with a sentence, audited (decision 27)."""
    from commonroom.workspaces.models import Workspace

    Workspace.objects.filter(pk=team.workspace.pk).update(viewers_download="nobody")
    url = reverse("record_certificate", args=[sealed.workspace_id, sealed.pk, 2])
    browser = Client()
    browser.force_login(team.viewer)
    page = browser.get(reverse("document_detail", args=[sealed.workspace_id, sealed.pk]))
    assert page.status_code == 200 and url not in page.content.decode()
    got = browser.get(url)
    assert got.status_code == 403
    assert "viewers cannot download documents" in got.content.decode()
    refused = AuditEvent.objects.get(action="download.refused")
    assert refused.data["what"] == "certificate" and refused.actor_id == team.viewer.pk
    assert not AuditEvent.objects.filter(action="record.certificate_downloaded").exists()
    secret = token_create(actor=team.viewer, name="t").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    base = f"/api/v1/workspaces/{sealed.workspace_id}/documents/{sealed.pk}/versions"
    assert api.get(f"{base}/2/certificate").json()["code"] == "download_off"
    # Someone who may download is offered it.
    commenter = Client()
    commenter.force_login(team.commenter)
    assert (
        url
        in commenter.get(
            reverse("document_detail", args=[sealed.workspace_id, sealed.pk])
        ).content.decode()
    )
