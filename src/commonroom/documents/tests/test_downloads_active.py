"""A file a browser could run (JavaScript, HTML, SVG, XML, XHTML) is uploaded through the page
and downloaded through the page and the API: always an attachment, as
``application/octet-stream``, sandboxed, ``nosniff``, same-origin only; the exact bytes.
Any other download keeps its type and carries the same protections."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.accounts.services import token_create
from commonroom.documents.models import Version
from commonroom.documents.tests.support import multipart

pytestmark = pytest.mark.django_db

SCRIPT = b"document.title = 'ran'; fetch('/api/v1/me');\n"
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>document.title = 'ran'</script><rect width='10' height='10'/></svg>\n"
)
HTML = b"<!doctype html><html><body><script>document.title = 'ran'</script></body></html>\n"
XML = b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>1</script></html>'

ACTIVE = [
    ("widget.js", SCRIPT),
    ("module.mjs", SCRIPT),
    ("drawing.svg", SVG),
    ("notes.html", HTML),
    ("notes.htm", HTML),
    ("feed.xml", XML),
    ("page.xhtml", XML),
]


def upload(user: Any, name: str, content: bytes, claimed: str = "text/plain") -> Version:
    client = Client()
    client.force_login(user)
    body, ctype = multipart((), [("files", name, content, claimed)])
    response = client.post(
        reverse("upload", args=[user.memberships.get().workspace_id]),
        data=body,
        content_type=ctype,
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.content
    return Version.objects.get(filename=name)


def page_download(user: Any, version: Version, **headers: str) -> Any:
    client = Client()
    client.force_login(user)
    doc = version.document
    return client.get(
        reverse("version_download", args=[doc.workspace_id, doc.pk, version.number]),
        headers=headers,
    )


def api_download(user: Any, version: Version, **headers: str) -> Any:
    secret = token_create(actor=user, name="sync", scope="read").secret
    doc = version.document
    url = f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}/versions/{version.number}"
    return Client(headers={"Authorization": f"Bearer {secret}"}).get(
        f"{url}/content", headers=headers
    )


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_protected(response: Any, filename: str) -> None:
    assert response["Content-Disposition"].startswith("attachment;")
    stem, dot, ext = filename.rpartition(".")  # every file here is version 1 of its document
    named = f"{stem} (version 1).{ext}" if dot else f"{filename} (version 1)"
    assert f'filename="{named}"' in response["Content-Disposition"]
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"


@pytest.mark.parametrize(("name", "content"), ACTIVE)
@pytest.mark.parametrize("route", ["page", "api"])
def test_an_active_file_downloads_as_inert_bytes(team, name, content, route) -> None:
    version = upload(team.editor, name, content)
    fetch = page_download if route == "page" else api_download

    response = fetch(team.viewer, version)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert_protected(response, name)
    assert body_of(response) == content


@pytest.mark.parametrize("route", ["page", "api"])
def test_a_byte_range_of_an_active_file_is_inert_too(team, route) -> None:
    version = upload(team.editor, "widget.js", SCRIPT)
    fetch = page_download if route == "page" else api_download

    response = fetch(team.viewer, version, Range="bytes=0-7")

    assert response.status_code == 206
    assert response["Content-Type"] == "application/octet-stream"
    assert_protected(response, "widget.js")
    assert body_of(response) == SCRIPT[:8]


def test_the_stored_type_decides_even_when_the_name_says_nothing(team) -> None:
    # Today's detection finds an SVG by its name only; a version stored with an active type
    # (by an older detector, or a better one later) is inert without any suffix.
    version = upload(team.editor, "drawing", SVG)
    Version.objects.filter(pk=version.pk).update(content_type="image/svg+xml; charset=utf-8")
    version.refresh_from_db()

    for fetch in (page_download, api_download):
        response = fetch(team.viewer, version)
        assert response["Content-Type"] == "application/octet-stream"
        assert_protected(response, "drawing")
        assert body_of(response) == SVG


@pytest.mark.parametrize("route", ["page", "api"])
def test_a_plain_file_keeps_its_type_with_the_same_protections(team, route) -> None:
    version = upload(team.editor, "minutes.txt", b"Minutes of the board.\n")
    fetch = page_download if route == "page" else api_download

    response = fetch(team.viewer, version)

    assert response["Content-Type"].startswith("text/plain")
    assert_protected(response, "minutes.txt")
    assert body_of(response) == b"Minutes of the board.\n"
