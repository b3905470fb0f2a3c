"""A PDF record's certificate carries the record's pages as they are, so where a workspace
watermarks its external guests' downloads (decision 28) a guest who may download is refused the
certificate, page and API alike, with a sentence sending them to the stamped download, the
refusal audited; staff, and guests where nothing is watermarked, still get it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import UserFactory
from commonroom.approvals.tests.test_services import ask, decide
from commonroom.audit.models import AuditEvent
from commonroom.certificates.signing import verify
from commonroom.documents.tests.factories import upload
from commonroom.documents.tests.test_guest_download_watermark import (
    guests_may_download,
    minutes_pdf,
    watermarking,
)
from commonroom.workspaces.models import Workspace
from commonroom.workspaces.tests.factories import add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def guest(team: Any) -> Any:
    person = UserFactory(email="aisha@guest.example.com", full_name="Aisha Khan", kind="guest")
    guests_may_download(team)
    add_member(team.workspace, person, "viewer")
    return person


@pytest.fixture
def sealed_pdf(team: Any) -> Any:
    doc = upload(team.manager, team.workspace, "minutes.pdf", minutes_pdf(2)).document
    decide(team.editor, doc, ask(team, doc, team.editor))
    doc.refresh_from_db()
    assert doc.sealed_version_id is not None
    return doc


def certificate_url(doc: Any) -> str:
    return reverse("record_certificate", args=[doc.workspace_id, doc.pk, 1])


def api_url(doc: Any) -> str:
    return f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}/versions/1/certificate"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_guest_whose_pdfs_are_watermarked_is_refused_the_certificate(team, guest, sealed_pdf):
    watermarking(team.workspace)
    # Not offered on the document's page, its heading or the approval...
    for page in ("document_detail", "document_heading"):
        html = signed_in(guest).get(reverse(page, args=[sealed_pdf.workspace_id, sealed_pdf.pk]))
        assert html.status_code == 200
        assert certificate_url(sealed_pdf) not in html.content.decode(), page
    # ...and refused when asked for all the same.
    got = signed_in(guest).get(certificate_url(sealed_pdf))
    assert got.status_code == 403
    assert "download the version itself from the document&#x27;s page" in got.content.decode()
    Workspace.objects.filter(pk=team.workspace.pk).update(guests_may_create_tokens=True)
    secret = token_create(actor=guest, name="t").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get(api_url(sealed_pdf))
    assert api.status_code == 403 and api.json()["code"] == "watermarked"
    assert "download the version itself" in api.json()["detail"]
    refusals = AuditEvent.objects.filter(action="download.refused", actor_id=guest.pk)
    assert refusals.count() == 2
    assert all(
        r.data["reason"] == "watermarked" and r.data["what"] == "certificate" for r in refusals
    )
    assert not AuditEvent.objects.filter(action="record.certificate_downloaded").exists()
    # The stamped download is there for them.
    stamped = signed_in(guest).get(
        reverse("version_download", args=[sealed_pdf.workspace_id, sealed_pdf.pk, 1])
    )
    assert stamped.status_code == 200


def test_staff_and_unwatermarked_guests_still_get_it(team, guest, sealed_pdf):
    watermarking(team.workspace)
    assert verify(signed_in(team.viewer).get(certificate_url(sealed_pdf)).content).ok
    page = reverse("document_detail", args=[sealed_pdf.workspace_id, sealed_pdf.pk])
    assert certificate_url(sealed_pdf) in signed_in(team.viewer).get(page).content.decode()
    watermarking(team.workspace, on=False)
    assert certificate_url(sealed_pdf) in signed_in(guest).get(page).content.decode()
    assert verify(signed_in(guest).get(certificate_url(sealed_pdf)).content).ok
    assert not AuditEvent.objects.filter(action="download.refused").exists()
