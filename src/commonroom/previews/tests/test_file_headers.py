"""A preview's files: its pictures are shown in the page, sandboxed and same-origin only; any
other file a preview holds (none of today's converters writes one, a future one might) is an
attachment, and one a browser could run is sent as ``application/octet-stream``."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from commonroom.previews.models import Preview, PreviewFile, preview_storage_name
from commonroom.previews.tests.factories import make_ready_preview
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>document.title="ran"</script></svg>'


def fetch(team: Any, doc: Any, name: str) -> Any:
    client = Client()
    client.force_login(team.viewer)
    response = client.get(reverse("preview_file", args=[team.workspace.pk, doc.pk, 1, name]))
    assert response.status_code == 200
    return response


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def add_file(doc: Any, name: str, content_type: str, data: bytes) -> None:
    version = doc.versions.get()
    stored = default_storage.save(preview_storage_name(version.blob_id, name), ContentFile(data))
    PreviewFile.objects.create(
        preview=Preview.objects.get(blob_id=version.blob_id),
        name=name,
        content_type=content_type,
        size=len(data),
        storage_name=stored,
    )


def test_a_picture_is_shown_in_the_page_sandboxed_and_same_origin_only(team) -> None:
    doc = upload_document(team.workspace, team.manager)
    name = make_ready_preview(doc)

    response = fetch(team, doc, name)

    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f'inline; filename="{name}"'
    policy = [part.strip() for part in response["Content-Security-Policy"].split(";")]
    assert policy[0] == "sandbox" and "default-src 'none'" in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    assert body_of(response).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("figure.svg", "image/svg+xml"), ("figure", "image/svg+xml"), ("part.js", "text/plain")],
)
def test_a_file_a_browser_could_run_is_an_inert_attachment(team, name, content_type) -> None:
    doc = upload_document(team.workspace, team.manager)
    make_ready_preview(doc)
    add_file(doc, name, content_type, SVG)

    response = fetch(team, doc, name)

    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"].split("; ")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    assert body_of(response) == SVG
