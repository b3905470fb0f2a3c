"""Where a workspace watermarks its external guests' downloads (a manager's setting), a guest's
PDF comes with their name, email and the day on every page, made in the confined child from the
stored file, which stays as it is; staff, and other kinds of file, are sent as stored. A PDF that
cannot be watermarked is refused with a sentence, and nothing is audited as downloaded; WebDAV,
which can only send stored bytes, sends the guest to the page instead."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import UserFactory
from commonroom.audit.models import AuditEvent
from commonroom.core.watermark import watermark_for
from commonroom.webdav.tests.client import Dav
from commonroom.workspaces.models import Workspace
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.services import workspace_update
from commonroom.workspaces.tests.factories import add_member, upload_document

pytestmark = pytest.mark.django_db

WORDS = "The ward managers agreed the bank staff rota."


def minutes_pdf(pages: int = 3) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 8, f"Page {number}. {WORDS}")
    return bytes(pdf.output())


def locked_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(minutes_pdf(1))))
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def guests_may_download(team: Any) -> None:
    """The workspace's download setting (decision 27): its viewers, external guests among
    them, may download originals (by default only staff viewers may)."""
    workspace_update(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
        downloads={"viewer": "everyone"},
    )


@pytest.fixture
def guest(team: Any) -> Any:
    person = UserFactory(email="aisha@guest.example.com", full_name="Aisha Khan", kind="guest")
    guests_may_download(team)
    return add_member(team.workspace, person, "viewer")


def watermarking(ws: Workspace, on: bool = True) -> None:
    Workspace.objects.filter(pk=ws.pk).update(watermark_guest_downloads=on)


def download(user: Any, team: Any, doc: Any) -> Any:
    client = Client()
    client.force_login(user)
    return client.get(reverse("version_download", args=[team.workspace.pk, doc.pk, 1]))


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def page_texts(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def test_a_guests_pdf_carries_their_watermark_on_every_page(team: Any, guest: Any) -> None:
    original = minutes_pdf()
    doc = upload_document(team.workspace, team.manager, name="minutes.pdf", content=original)
    watermarking(team.workspace)

    response = download(guest, team, doc)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert "Accept-Ranges" not in response  # made for this download: no ranges of it
    sent = body(response)
    assert sent != original
    assert response["Digest"] == f"sha-256={hashlib.sha256(sent).hexdigest()}"
    texts = page_texts(sent)
    assert len(texts) == 3
    line = watermark_for(guest).line
    for number, text in enumerate(texts, start=1):
        assert f"Page {number}. {WORDS}" in text  # the page's own text is still there
        assert line in text
    event = AuditEvent.objects.filter(action="version.downloaded").get()
    assert event.actor_id == guest.pk
    assert event.data["watermarked"] is True
    # The stored file is as it was: staff download it unchanged.
    assert body(download(team.viewer, team, doc)) == original


def test_without_the_setting_a_guest_gets_the_pdf_as_stored(team: Any, guest: Any) -> None:
    original = minutes_pdf()
    doc = upload_document(team.workspace, team.manager, name="minutes.pdf", content=original)
    response = download(guest, team, doc)
    assert body(response) == original
    assert response["Accept-Ranges"] == "bytes"
    assert "watermarked" not in AuditEvent.objects.get(action="version.downloaded").data


def test_only_pdfs_are_watermarked(team: Any, guest: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt", content=b"Rota.")
    watermarking(team.workspace)
    assert body(download(guest, team, doc)) == b"Rota."


def test_a_pdf_that_cannot_be_watermarked_is_refused_and_nothing_audited(
    team: Any, guest: Any
) -> None:
    doc = upload_document(team.workspace, team.manager, name="locked.pdf", content=locked_pdf())
    watermarking(team.workspace)
    response = download(guest, team, doc)
    assert response.status_code == 409
    page = response.content.decode()
    assert "protected by a password" in page
    assert "cannot be downloaded here by external guests" in page
    assert not AuditEvent.objects.filter(action="version.downloaded").exists()
    # Staff still download it.
    assert download(team.manager, team, doc).status_code == 200


def test_the_api_sends_the_guest_the_watermarked_pdf(team: Any, guest: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.pdf", content=minutes_pdf())
    watermarking(team.workspace)
    Workspace.objects.filter(pk=team.workspace.pk).update(guests_may_create_tokens=True)
    token = token_create(actor=guest, name="script", scope="read").secret
    url = f"/api/v1/workspaces/{team.workspace.pk}/documents/{doc.pk}/versions/1/content"
    response = Client().get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert all(watermark_for(guest).line in text for text in page_texts(body(response)))
    locked = upload_document(team.workspace, team.manager, name="locked.pdf", content=locked_pdf())
    url = f"/api/v1/workspaces/{team.workspace.pk}/documents/{locked.pk}/versions/1/content"
    refused = Client().get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "watermark_failed"


def test_webdav_sends_the_guest_to_the_page_for_a_watermarked_pdf(team: Any, guest: Any) -> None:
    upload_document(team.workspace, team.manager, name="minutes.pdf", content=minutes_pdf())
    Workspace.objects.filter(pk=team.workspace.pk).update(guests_may_create_tokens=True)
    watermarking(team.workspace)
    refused = Dav(guest).get("/Weekly budget meeting/minutes.pdf")
    assert refused.status_code == 403
    assert "download it from the document's page" in refused.text
    assert not AuditEvent.objects.filter(action="version.downloaded").exists()
    copy = Dav(guest).request(
        "COPY",
        "/Weekly budget meeting/minutes.pdf",
        headers={"Destination": "/dav/Weekly budget meeting/copy.pdf"},
    )
    assert copy.status_code == 403
    assert Dav(team.viewer).get("/Weekly budget meeting/minutes.pdf").status_code == 200


def test_the_watermark_lets_no_guest_download_whom_the_setting_refuses(team: Any) -> None:
    # By default a guest viewer may not download (decision 27): the watermark setting changes
    # nothing about that; the refusal is the download setting's, audited, and nothing is made.
    person = add_member(
        team.workspace,
        UserFactory(email="lena@guest.example.com", full_name="Lena Berg", kind="guest"),
        "viewer",
    )
    doc = upload_document(team.workspace, team.manager, name="minutes.pdf", content=minutes_pdf())
    watermarking(team.workspace)
    response = download(person, team, doc)
    assert response.status_code == 403
    assert "external guests who are viewers cannot download" in response.content.decode()
    refused = AuditEvent.objects.get(action="download.refused")
    assert refused.actor_id == person.pk
    assert refused.data["guest"] is True
    assert not AuditEvent.objects.filter(action="version.downloaded").exists()


def test_a_non_member_guest_gets_nothing(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.pdf", content=minutes_pdf())
    watermarking(team.workspace)
    stranger = UserFactory(email="stranger@guest.example.com", kind="guest")
    response = download(stranger, team, doc)
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="version.downloaded").exists()


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor"])
def test_only_a_manager_turns_the_setting_on(team: Any, role: str) -> None:
    url = reverse("workspace_settings", args=[team.workspace.pk])
    form = {
        "action": "save",
        "name": team.workspace.name,
        "description": "",
        "record_retention_years": "8",
        "watermark_guest_downloads": "yes",
    }
    member = Client()
    member.force_login(team.by_role[role])
    member.post(url, form)
    outsider = Client()
    outsider.force_login(team.outsider)
    assert outsider.post(url, form).status_code == 404
    team.workspace.refresh_from_db()
    assert team.workspace.watermark_guest_downloads is False

    manager = Client()
    manager.force_login(team.manager)
    page = manager.get(url).content.decode()
    assert "Watermark the PDFs external guests download" in page
    assert manager.post(url, form).status_code == 302
    team.workspace.refresh_from_db()
    assert team.workspace.watermark_guest_downloads is True
    change = AuditEvent.objects.get(action="workspace.updated")
    assert change.data["watermark_guest_downloads"] == [False, True]
    checkbox = 'name="watermark_guest_downloads" type="checkbox" value="yes" checked'
    assert checkbox in manager.get(url).content.decode()


def test_the_api_shows_and_changes_the_setting(team: Any) -> None:
    manager = Client()
    manager.force_login(team.manager)
    url = f"/api/v1/workspaces/{team.workspace.pk}"
    assert manager.get(url).json()["watermark_guest_downloads"] is False
    changed = manager.patch(
        url, {"watermark_guest_downloads": True}, content_type="application/json"
    )
    assert changed.status_code == 200
    assert changed.json()["watermark_guest_downloads"] is True
    viewer = Client()
    viewer.force_login(team.viewer)
    refused = viewer.patch(
        url, {"watermark_guest_downloads": False}, content_type="application/json"
    )
    assert refused.status_code == 403
    team.workspace.refresh_from_db()
    assert team.workspace.watermark_guest_downloads is True


def test_a_name_in_any_script_is_stamped_as_written(team: Any) -> None:
    person = UserFactory(email="ngozi@guest.example.com", full_name="Ngozi Ọkàfọ̀", kind="guest")
    add_member(team.workspace, person, "viewer")
    guests_may_download(team)
    doc = upload_document(team.workspace, team.manager, name="minutes.pdf", content=minutes_pdf(1))
    watermarking(team.workspace)
    (text,) = page_texts(body(download(person, team, doc)))
    assert "Ngozi Ọkàfọ̀" in text
