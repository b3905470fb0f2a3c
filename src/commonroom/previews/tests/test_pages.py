"""Previews end to end: made after the upload commits (tasks run at once in tests), once per
blob; shown on the document page and as a fragment; their files served with strict headers;
a live event when ready; 404 for non-members."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.audit.models import Action, AuditEvent
from commonroom.documents.selectors import document_access
from commonroom.documents.services import version_upload
from commonroom.live.models import Event
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.previews.tests import files
from commonroom.workspaces.tests.factories import upload_document

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ROLES = ["viewer", "commenter", "editor", "manager"]


@pytest.fixture
def docx_bytes(tmp_path: Path) -> bytes:
    return files.rich_docx(tmp_path / "minutes.docx").read_bytes()


def upload(team: Any, capture: Any, name: str, content: bytes) -> Any:
    with capture(execute=True):
        return upload_document(team.workspace, team.manager, name=name, content=content)


def client_for(user: Any) -> Client:
    c = Client()
    if user is not None:
        c.force_login(user)
    return c


def urls(team: Any, doc: Any, number: int = 1) -> tuple[str, str, str]:
    ws = team.workspace.pk
    return (
        reverse("document_detail", args=[ws, doc.pk]),
        reverse("version_preview", args=[ws, doc.pk, number]),
        reverse("preview_file", args=[ws, doc.pk, number, "image1.png"]),
    )


@pytest.mark.django_db
def test_a_docx_preview_is_made_and_shown_to_every_member(
    team, django_capture_on_commit_callbacks, docx_bytes
) -> None:
    doc = upload(team, django_capture_on_commit_callbacks, "minutes.docx", docx_bytes)
    preview = Preview.objects.get(blob__versions__document=doc)
    assert preview.status == PreviewStatus.READY
    assert preview.format == "docx" and preview.kind == "html"
    assert preview.seconds is not None and preview.made_at is not None
    page, fragment, image = urls(team, doc)
    for role in ROLES:
        c = client_for(team.by_role[role])
        body = c.get(page).content.decode()
        assert '<h2 id="read-heading">Read</h2>' in body
        assert f'data-live-list="preview:{doc.pk}"' in body
        assert f'<div id="preview-{doc.pk}"' in body
        assert '<h3 id="p-1">Board minutes</h3>' in body
        assert f'<img alt="Picture 1 in the document" src="{image}">' in body
        assert "{{file:" not in body
        r = c.get(fragment, HTTP_HX_REQUEST="true")
        assert r.status_code == 200
        assert r["Content-Security-Policy"].startswith("default-src 'none'; img-src 'self'")
        assert r["X-Content-Type-Options"] == "nosniff"
        assert '<h3 id="p-1">Board minutes</h3>' in r.content.decode()
        f = c.get(image)
        assert f.status_code == 200
        assert f["Content-Type"] == "image/png"
        assert f["Content-Disposition"] == 'inline; filename="image1.png"'
        assert f["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in f["Content-Security-Policy"]
        assert f.getvalue().startswith(b"\x89PNG")


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["non-member", "anonymous"])
def test_outsiders_get_nothing(team, django_capture_on_commit_callbacks, docx_bytes, who) -> None:
    doc = upload(team, django_capture_on_commit_callbacks, "minutes.docx", docx_bytes)
    c = client_for(team.by_role[who])
    for url in urls(team, doc)[1:]:
        r = c.get(url)
        if who == "anonymous":
            assert r.status_code == 302 and "/accounts/login/" in r["Location"]
        else:
            assert r.status_code == 404
            # The PNG signature, not the three letters: a page's random CSRF token or
            # nonce may spell "PNG" (it did once in about 2,000 runs).
            assert b"Board minutes" not in r.content and b"\x89PNG" not in r.content


@pytest.mark.django_db
def test_forged_versions_and_file_names_are_404(
    team, django_capture_on_commit_callbacks, docx_bytes
) -> None:
    doc = upload(team, django_capture_on_commit_callbacks, "minutes.docx", docx_bytes)
    c = client_for(team.viewer)
    ws = team.workspace.pk
    assert c.get(reverse("version_preview", args=[ws, doc.pk, 9])).status_code == 404
    assert c.get(reverse("preview_file", args=[ws, doc.pk, 1, "image9.png"])).status_code == 404
    assert c.get(reverse("preview_file", args=[ws, doc.pk, 1, "..%2Fx"])).status_code == 404


@pytest.mark.django_db
def test_reading_the_preview_is_audited(team, django_capture_on_commit_callbacks, docx_bytes):
    doc = upload(team, django_capture_on_commit_callbacks, "minutes.docx", docx_bytes)
    client_for(team.viewer).get(urls(team, doc)[1])
    event = AuditEvent.objects.get(action=Action.PREVIEW_VIEWED)
    assert event.actor_id == team.viewer.pk
    assert event.document_id == doc.pk
    assert event.data["version"] == 1


@pytest.mark.django_db
def test_one_preview_per_blob_shared_by_versions(
    team, django_capture_on_commit_callbacks, docx_bytes, monkeypatch
) -> None:
    from commonroom.previews import services

    made: list[str] = []
    real = services.preview_make

    def counting(*, sha: str) -> Any:
        made.append(sha)
        return real(sha=sha)

    monkeypatch.setattr(services, "preview_make", counting)
    monkeypatch.setattr("commonroom.previews.tasks.preview_make", services.preview_make)
    first = upload(team, django_capture_on_commit_callbacks, "a.docx", docx_bytes)
    second = upload(team, django_capture_on_commit_callbacks, "b.docx", docx_bytes)
    assert len(made) == 1
    assert Preview.objects.count() == 1
    body = client_for(team.viewer).get(urls(team, second)[0]).content.decode()
    assert "Board minutes" in body
    assert first.pk != second.pk


@pytest.mark.django_db
def test_the_live_event_names_the_version_whose_preview_is_made(
    team, django_capture_on_commit_callbacks, docx_bytes
):
    doc = upload(team, django_capture_on_commit_callbacks, "minutes.docx", docx_bytes)
    event = Event.objects.get(kind="preview.ready")
    assert event.workspace_id == team.workspace.pk
    # The page fetches the fragment it derives from these: urls(team, doc)[1].
    assert event.data == {"document": str(doc.pk), "number": 1, "status": "ready"}


@pytest.mark.django_db
def test_a_pending_preview_says_so(team, docx_bytes) -> None:
    doc = upload_document(team.workspace, team.manager, name="m.docx", content=docx_bytes)
    # The upload's transaction is still open in this test: nothing was enqueued yet.
    assert Preview.objects.get().status == PreviewStatus.PENDING
    body = client_for(team.viewer).get(urls(team, doc)[0]).content.decode()
    assert "The preview is being prepared" in body


@pytest.mark.django_db
def test_a_pending_preview_asks_again_until_it_is_made_and_only_a_shown_one_is_audited(
    team, docx_bytes
) -> None:
    """The pending fragment names itself for preview-wait.js to fetch again (even if the page
    never hears preview.ready); fetching it while pending is not a reading of the document."""
    # The upload's transaction is still open in this test: nothing was enqueued yet.
    doc = upload_document(team.workspace, team.manager, name="m.docx", content=docx_bytes)
    assert Preview.objects.get().status == PreviewStatus.PENDING
    page, fragment, _ = urls(team, doc)
    viewer = client_for(team.viewer)
    for url in (page, fragment):
        body = viewer.get(url).content.decode()
        assert f'data-preview-status="pending" data-preview-wait="{fragment}"' in body
    assert not AuditEvent.objects.filter(action=Action.PREVIEW_VIEWED).exists()

    from commonroom.previews.services import preview_make

    preview_make(sha=Preview.objects.get().blob_id)
    body = viewer.get(fragment).content.decode()
    assert 'data-preview-status="ready">' in body and "data-preview-wait" not in body
    assert AuditEvent.objects.filter(action=Action.PREVIEW_VIEWED).count() == 1


@pytest.mark.django_db
def test_an_unsupported_file_offers_the_download(team, django_capture_on_commit_callbacks):
    doc = upload(team, django_capture_on_commit_callbacks, "tool.exe", b"MZ\x90\x00binary")
    assert Preview.objects.get().status == PreviewStatus.UNSUPPORTED
    body = client_for(team.viewer).get(urls(team, doc)[1]).content.decode()
    assert "There is no preview for this kind of file. Download it to read it." in body
    download = reverse("version_download", args=[team.workspace.pk, doc.pk, 1])
    assert f'href="{download}"' in body


@pytest.mark.django_db
def test_a_failed_preview_says_why_and_offers_the_download(
    team, django_capture_on_commit_callbacks, tmp_path
) -> None:
    whole = files.rich_docx(tmp_path / "w.docx")
    bad = files.truncated(tmp_path / "b.docx", whole).read_bytes()
    doc = upload(team, django_capture_on_commit_callbacks, "broken.docx", bad)
    preview = Preview.objects.get()
    assert preview.status == PreviewStatus.FAILED
    assert "damaged" in preview.message and preview.message.endswith(
        "Download the file to read it."
    )
    r = client_for(team.viewer).get(urls(team, doc)[0])
    assert r.status_code == 200
    assert preview.message in r.content.decode()
    told = Event.objects.get(kind="preview.ready")  # told, failed or not, and which
    assert told.data == {"document": str(doc.pk), "number": 1, "status": "failed"}


@pytest.mark.django_db
def test_a_preview_that_times_out_is_a_failed_preview(
    team, django_capture_on_commit_callbacks, settings, monkeypatch
) -> None:
    from commonroom.previews import convert

    monkeypatch.setenv(convert.TEST_CONVERTERS_ENV, "1")
    monkeypatch.setitem(convert.BY_EXTENSION, ".slow", "test-sleep")
    settings.COMMONROOM_PREVIEW_TIMEOUT = 1
    upload(team, django_capture_on_commit_callbacks, "a.slow", b"zzz")
    preview = Preview.objects.get()
    assert preview.status == PreviewStatus.FAILED
    assert preview.message.startswith("The preview took too long to make (over 1 seconds)")


@pytest.mark.django_db
def test_text_markdown_and_csv_previews(team, django_capture_on_commit_callbacks) -> None:
    md = upload(team, django_capture_on_commit_callbacks, "a.md", b"# Plan\n\n<script>x</script>")
    csv = upload(team, django_capture_on_commit_callbacks, "b.csv", b"Ward,Beds\nAsh,24\n")
    viewer = client_for(team.viewer)
    body = viewer.get(urls(team, md)[1]).content.decode()
    assert '<h3 id="p-1">Plan</h3>' in body and "&lt;script&gt;x&lt;/script&gt;" in body
    body = viewer.get(urls(team, csv)[1]).content.decode()
    assert "<td>Ash</td><td>24</td>" in body


@pytest.mark.django_db
def test_a_new_version_with_new_bytes_gets_its_own_preview(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    doc = upload(team, django_capture_on_commit_callbacks, "n.txt", b"First words")
    access = document_access(user=team.editor, workspace_id=team.workspace.pk, document_id=doc.pk)
    with django_capture_on_commit_callbacks(execute=True):
        version_upload(actor=team.editor, doc_access=access, uploaded=make_upload("n.txt", b"New"))
    assert Preview.objects.filter(status=PreviewStatus.READY).count() == 2
    viewer = client_for(team.viewer)
    page = viewer.get(urls(team, doc)[0]).content.decode()
    assert '<p id="p-1" class="cr-preview-text">New</p>' in page and "First words" not in page
    older = viewer.get(urls(team, doc, 1)[1]).content.decode()
    assert '<p id="p-1" class="cr-preview-text">First words</p>' in older
