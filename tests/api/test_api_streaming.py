"""A file of a few MB goes up and comes back down through the API unchanged: the SHA-256 the API
reports (computed while the upload streamed in) is the SHA-256 of the bytes, and the download is
streamed in chunks rather than built in memory."""

from __future__ import annotations

import hashlib
import os

import pytest
from api_support import bearer, doc_url, upload_via_api
from django.core.files.uploadedfile import SimpleUploadedFile

pytestmark = pytest.mark.django_db

# Larger than Django's in-memory upload limit (so the upload is spooled to disk) and not a
# multiple of any chunk size.
SIZE = 5 * 1024 * 1024 + 12_345


def test_a_few_megabytes_round_trip_with_the_right_checksum(team):
    from commonroom.documents.models import Blob

    content = os.urandom(SIZE)
    expected = hashlib.sha256(content).hexdigest()
    editor = bearer(team.editor)

    uploaded = upload_via_api(editor, team.workspace, "board-pack.pdf", content)

    assert uploaded.status_code == 201
    version = uploaded.json()["version"]
    assert version["size"] == SIZE
    assert version["sha256"] == expected
    assert Blob.objects.get(pk=expected).size == SIZE

    document_id = uploaded.json()["document"]["id"]
    downloaded = bearer(team.viewer).get(
        doc_url(team.workspace, document_id, f"/versions/{version['number']}/content")
    )

    assert downloaded.status_code == 200
    assert downloaded.streaming
    chunks = list(downloaded.streaming_content)
    assert len(chunks) > 1, "the download should arrive in several chunks"
    assert max(len(c) for c in chunks) < SIZE
    body = b"".join(chunks)
    assert len(body) == SIZE
    assert hashlib.sha256(body).hexdigest() == expected
    assert body == content
    assert downloaded["Content-Length"] == str(SIZE)


def test_a_large_new_version_keeps_the_first_one_intact(team):
    first, second = os.urandom(SIZE), os.urandom(SIZE)
    editor = bearer(team.editor)
    document_id = upload_via_api(editor, team.workspace, "pack.bin", first).json()["document"]["id"]

    added = editor.post(
        doc_url(team.workspace, document_id, "/versions"),
        {"file": SimpleUploadedFile("pack.bin", second), "based_on": "1"},
    )

    assert added.status_code == 201
    assert added.json()["sha256"] == hashlib.sha256(second).hexdigest()
    for number, content in ((1, first), (2, second)):
        response = editor.get(doc_url(team.workspace, document_id, f"/versions/{number}/content"))
        assert hashlib.sha256(b"".join(response.streaming_content)).digest() == (
            hashlib.sha256(content).digest()
        )
