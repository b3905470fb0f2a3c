"""Where the workspace's setting turns downloading off for someone (decision 27), no page offers
them a download (the document page, its versions, a failed preview, the comparison, the final
record's certificate), the routes refuse them with a sentence (a 403 page, JSON
``{"code", "detail"}``), and reading in the browser goes on: the page, the preview, its
pictures and the comparison."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.accounts.services import token_create
from commonroom.audit.models import AuditEvent
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.previews.tests.factories import make_ready_preview
from commonroom.previews.tests.test_compare import two_versions
from commonroom.workspaces.models import Workspace

pytestmark = pytest.mark.django_db

SENTENCE = "In this workspace, viewers cannot download documents"


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def doc(team: Any, django_capture_on_commit_callbacks: Any, make_upload: Any) -> Any:
    """Two versions of a text file, each with a ready preview; viewers may not download."""
    made = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "minutes.txt",
        b"Beds: 24",
        b"Beds: 26",
    )
    Workspace.objects.filter(pk=team.workspace.pk).update(viewers_download="nobody")
    return made


def download_url(team: Any, doc: Any, number: int) -> str:
    return reverse("version_download", args=[team.workspace.pk, doc.pk, number])


def test_the_document_page_offers_no_download_to_those_who_may_not(team, doc):
    page = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    refused = browser(team.viewer).get(page)
    assert refused.status_code == 200
    shown = refused.content.decode()
    for number in (1, 2):
        assert download_url(team, doc, number) not in shown
    assert "downloading is turned off for you" in shown
    # The same page for someone who may: every version's link.
    allowed = browser(team.commenter).get(page).content.decode()
    for number in (1, 2):
        assert download_url(team, doc, number) in allowed
    assert "downloading is turned off" not in allowed


def test_the_preview_and_the_comparison_are_read_without_a_download_link(team, doc):
    name = make_ready_preview(doc)
    viewer = browser(team.viewer)
    preview = viewer.get(reverse("version_preview", args=[team.workspace.pk, doc.pk, 2]))
    assert preview.status_code == 200 and "Minutes" in preview.content.decode()
    picture = viewer.get(reverse("preview_file", args=[team.workspace.pk, doc.pk, 2, name]))
    assert picture.status_code == 200
    compare_url = reverse("version_compare", args=[team.workspace.pk, doc.pk]) + "?a=1&b=2"
    assert "Beds" in viewer.get(compare_url).content.decode()
    # A failed preview offers the download instead, only to those who may.
    Preview.objects.filter(blob_id=doc.versions.get(number=2).blob_id).update(
        status=PreviewStatus.FAILED, message="It could not be read."
    )
    failed = viewer.get(reverse("version_preview", args=[team.workspace.pk, doc.pk, 2]))
    assert "It could not be read." in failed.content.decode()
    assert download_url(team, doc, 2) not in failed.content.decode()
    assert download_url(team, doc, 2) in (
        browser(team.commenter)
        .get(reverse("version_preview", args=[team.workspace.pk, doc.pk, 2]))
        .content.decode()
    )
    # A comparison that cannot be made offers the two files, only to those who may download.
    assert "Download version 2" not in viewer.get(compare_url).content.decode()
    assert "Download version 2" in browser(team.commenter).get(compare_url).content.decode()
    assert not AuditEvent.objects.filter(action="download.refused").exists()


def test_the_page_route_refuses_with_a_sentence_and_audits_the_attempt(team, doc):
    got = browser(team.viewer).get(download_url(team, doc, 2))
    assert got.status_code == 403
    assert SENTENCE in got.content.decode()
    assert b"Beds: 26" not in got.content
    refused = AuditEvent.objects.get(action="download.refused")
    assert refused.actor_id == team.viewer.pk
    assert refused.data == {"what": "version", "role": "viewer", "guest": False, "version": 2}
    assert not AuditEvent.objects.filter(action="version.downloaded").exists()


def test_the_api_refuses_with_json_and_says_so_in_the_abilities(team, doc):
    secret = token_create(actor=team.viewer, name="sync", scope="read").secret
    api = Client(headers={"Authorization": f"Bearer {secret}"})
    base = f"/api/v1/workspaces/{team.workspace.pk}/documents/{doc.pk}"
    got = api.get(f"{base}/versions/2/content")
    assert got.status_code == 403
    assert got.json()["code"] == "download_off"
    assert got.json()["detail"].startswith(SENTENCE)
    assert api.get(base).json()["abilities"]["download"] is False
    assert (
        api.get(f"/api/v1/workspaces/{team.workspace.pk}").json()["abilities"]["download"] is False
    )
    assert AuditEvent.objects.filter(action="download.refused").count() == 1


def test_an_outsider_still_gets_404_and_nothing_is_audited(team, doc):
    assert browser(team.outsider).get(download_url(team, doc, 2)).status_code == 404
    assert not AuditEvent.objects.filter(action="download.refused").exists()
