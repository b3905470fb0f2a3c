"""The API's side of the version stamp: a .docx downloaded through the API says which version it
is; sent back after newer versions exist it is flagged whatever ``based_on`` says; bytes of an
earlier version say which; the content's ETag and byte ranges describe the file sent."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from api_support import bearer, doc_url, upload_via_api
from django.core.files.uploadedfile import SimpleUploadedFile

from commonroom.documents.tests.office_files import docx_bytes, edited_docx, stamp_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path / "data"


def content_of(client: Any, workspace: Any, document_id: str, number: int, **headers: str) -> Any:
    return client.get(
        doc_url(workspace, document_id, f"/versions/{number}/content"), headers=headers
    )


def send_version(client: Any, workspace: Any, document_id: str, data: bytes, **fields: Any) -> Any:
    return client.post(
        doc_url(workspace, document_id, "/versions"),
        {"file": SimpleUploadedFile("minutes.docx", data), **fields},
    )


def test_a_stale_copy_sent_through_the_api_is_flagged(team: Any) -> None:
    tom, priya = bearer(team.editor), bearer(team.manager)
    made = upload_via_api(tom, team.workspace, "minutes.docx", docx_bytes("First")).json()
    doc = made["document"]["id"]
    assert made["version"]["based_on_from_file"] is False
    assert made["version"]["identical_to"] is None
    response = content_of(tom, team.workspace, doc, 1)
    copy = b"".join(response.streaming_content)
    assert stamp_in(copy) == f"{doc} version 1 sha256 {made['version']['sha256']}"
    assert response["ETag"] == f'"{hashlib.sha256(copy).hexdigest()}"'
    for text in ("Second", "Third"):
        assert send_version(priya, team.workspace, doc, docx_bytes(text)).status_code == 201

    sent = send_version(tom, team.workspace, doc, edited_docx(copy, "Offline"), based_on="3")

    assert sent.status_code == 201
    version = sent.json()
    assert version["number"] == 4
    assert (version["based_on"], version["based_on_latest"], version["based_on_from_file"]) == (
        1,
        False,
        True,
    )
    listed = bearer(team.viewer).get(doc_url(team.workspace, doc, "/versions")).json()["items"]
    assert [(v["number"], v["based_on_latest"], v["based_on_from_file"]) for v in listed] == [
        (4, False, True),
        (3, True, False),
        (2, True, False),
        (1, True, False),
    ]


def test_the_api_says_which_earlier_version_an_upload_is_identical_to(team: Any) -> None:
    tom = bearer(team.editor)
    doc = upload_via_api(tom, team.workspace, "minutes.docx", docx_bytes("First")).json()
    doc_id = doc["document"]["id"]
    copy = b"".join(content_of(tom, team.workspace, doc_id, 1).streaming_content)
    send_version(tom, team.workspace, doc_id, docx_bytes("Second"))

    back = send_version(tom, team.workspace, doc_id, copy).json()  # unchanged

    assert (back["number"], back["identical_to"], back["sha256"]) == (
        3,
        1,
        doc["version"]["sha256"],
    )
    again = send_version(tom, team.workspace, doc_id, copy)
    assert again.status_code == 409  # now the same as the latest


def test_the_content_answers_a_byte_range_of_the_stamped_file(team: Any) -> None:
    tom = bearer(team.editor)
    doc = upload_via_api(tom, team.workspace, "minutes.docx", docx_bytes()).json()["document"]
    whole = content_of(tom, team.workspace, doc["id"], 1)
    full = b"".join(whole.streaming_content)
    part = content_of(
        tom, team.workspace, doc["id"], 1, Range="bytes=10-19", **{"If-Range": whole["ETag"]}
    )
    assert part.status_code == 206
    assert b"".join(part.streaming_content) == full[10:20]
    assert part["Content-Range"] == f"bytes 10-19/{len(full)}"
