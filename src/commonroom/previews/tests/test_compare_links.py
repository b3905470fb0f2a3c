"""The document page offers "Compare with the previous version" only where comparing works."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.previews.tests.files import png_bytes
from commonroom.previews.tests.test_compare import two_versions

pytestmark = pytest.mark.django_db
LINK = "Compare with the previous version"


def body(team: Any, doc: Any) -> str:
    reader = Client()
    reader.force_login(team.viewer)
    response = reader.get(reverse("document_detail", args=[team.workspace.pk, doc.pk]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("name", "v1", "v2", "offered"),
    [
        ("notes.txt", b"Beds: 24", b"Beds: 26", True),
        ("beds.csv", b"ward,beds\nAsh,24\n", b"ward,beds\nAsh,26\n", True),
        ("ward.png", png_bytes((1, 2, 3)), png_bytes((4, 5, 6)), False),
        ("archive.zip", b"PK\x05\x06" + bytes(18), b"PK\x05\x06" + bytes(17) + b"\x01", False),
    ],
)
def test_offered_only_for_kinds_that_compare(
    team: Any,
    django_capture_on_commit_callbacks: Any,
    make_upload: Any,
    name: str,
    v1: bytes,
    v2: bytes,
    offered: bool,
) -> None:
    doc = two_versions(team, django_capture_on_commit_callbacks, make_upload, name, v1, v2)
    page = body(team, doc)
    # Both versions are listed (where the link would be), so its absence says something.
    for number in (1, 2):
        assert reverse("version_download", args=[team.workspace.pk, doc.pk, number]) in page
    # Offered once, on version 2, for version 1 against it.
    assert page.count(LINK) == (1 if offered else 0)
    compare = reverse("version_compare", args=[team.workspace.pk, doc.pk]) + "?a=1&amp;b=2"
    assert (compare in page) is offered
