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
    url = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    return reader.get(url).content.decode()


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
    assert (LINK in body(team, doc)) is offered
