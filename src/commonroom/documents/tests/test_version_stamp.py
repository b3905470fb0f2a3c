"""Every downloaded .docx/.xlsx/.pptx says which version it is, and an upload reads it back: a
stale copy uploaded from a fresh page is flagged as a crossed amendment, a copy sent back
unchanged is that version's bytes, a forged stamp is ignored. Downloads keep their size, ETag,
byte ranges and audit event right, and never fail because of the stamp."""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from commonroom.audit.models import AuditEvent
from commonroom.core.confine import LAYERS, landlock_abi
from commonroom.core.sandbox import ChildRun
from commonroom.documents import services, stamping
from commonroom.documents.models import Version
from commonroom.documents.tests.factories import doc_access_for, new_version, upload
from commonroom.documents.tests.office_files import (
    BUILDERS,
    CUSTOM_PART,
    ENTITY_BOMB,
    custom_xml,
    docx_bytes,
    edited_docx,
    first_text,
    members,
    stamp_in,
    with_custom_part,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(settings: Any, tmp_path: Path) -> Path:
    """Stamped copies and the children's work folders of this test only."""
    settings.DATA_DIR = tmp_path / "data"
    return Path(settings.DATA_DIR)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def download_url(version: Version, number: int | None = None) -> str:
    document = version.document
    return reverse(
        "version_download", args=[document.workspace_id, document.pk, number or version.number]
    )


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def download(user: Any, version: Version, **headers: str) -> Any:
    return client_for(user).get(download_url(version), headers=headers)


def stamp_of(version: Version) -> str:
    return f"{version.document_id} version {version.number} sha256 {version.blob_id}"


def page_upload(user: Any, version: Version, data: bytes, based_on: int | str) -> Any:
    """A new version sent from the document's page (its hidden ``based_on``), as its script
    sends it."""
    document = version.document
    return client_for(user).post(
        reverse("version_upload", args=[document.workspace_id, document.pk]),
        {"file": SimpleUploadedFile(document.name, data), "based_on": str(based_on)},
        headers={"Accept": "application/json"},
    )


def document_page(user: Any, version: Version) -> str:
    document = version.document
    url = reverse("document_detail", args=[document.workspace_id, document.pk])
    return str(client_for(user).get(url).content.decode())


TEXT = {"docx": "The board met on Tuesday.", "xlsx": "Budget", "pptx": "Budget"}


# --- Downloads -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_a_download_carries_its_version_and_nothing_else_changes(team: Any, kind: str) -> None:
    original = BUILDERS[kind]()
    v1 = upload(team.editor, team.workspace, f"paper.{kind}", original)

    response = download(team.viewer, v1)

    assert response.status_code == 200
    got = body_of(response)
    assert stamp_in(got) == stamp_of(v1)
    before, after = members(original), members(got)
    assert list(after) == [*before, CUSTOM_PART]
    assert {name for name in before if before[name] != after[name]} == {
        "[Content_Types].xml",
        "_rels/.rels",
    }
    assert first_text(kind, got) == TEXT[kind]  # python-docx, openpyxl, python-pptx open it
    assert response["ETag"] == f'"{hashlib.sha256(got).hexdigest()}"'
    assert response["Content-Length"] == str(len(got))
    assert response["Content-Type"] == v1.content_type
    assert response["Content-Disposition"].startswith("attachment;")
    # Made once and kept: the next download is the same file.
    again = download(team.viewer, v1)
    assert body_of(again) == got and again["ETag"] == response["ETag"]


def test_each_version_carries_its_own_number(team: Any) -> None:
    v1 = upload(team.editor, team.workspace, "minutes.docx", docx_bytes("First"))
    v2 = new_version(team.editor, v1.document, docx_bytes("Second"))
    assert stamp_in(body_of(download(team.viewer, v1))) == stamp_of(v1)
    assert stamp_in(body_of(download(team.viewer, v2))) == stamp_of(v2)


def test_the_download_is_audited_as_before(team: Any) -> None:
    v1 = upload(team.editor, team.workspace, "minutes.docx", docx_bytes())
    download(team.viewer, v1)
    event = AuditEvent.objects.filter(action="version.downloaded").get()
    assert event.data == {"version": 1, "sha256": v1.blob_id}
    assert event.actor_id == team.viewer.pk


@pytest.mark.skipif(landlock_abi() < 6, reason="needs Landlock ABI 6 (Linux 6.12)")
def test_the_stamp_is_made_in_a_confined_child(team: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[ChildRun] = []
    real = stamping.run_child

    def watched(*args: Any, **kwargs: Any) -> ChildRun:
        runs.append(real(*args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(stamping, "run_child", watched)
    v1 = upload(team.editor, team.workspace, "minutes.docx", docx_bytes())  # read: one child
    download(team.viewer, v1)  # stamp: another
    assert len(runs) == 2
    for run in runs:
        assert set(run.confined) == set(LAYERS)


def test_a_non_member_gets_404_and_nothing_is_stamped(team: Any, data_dir: Path) -> None:
    v1 = upload(team.editor, team.workspace, "minutes.docx", docx_bytes())
    response = download(team.outsider, v1)
    assert response.status_code == 404
    assert not stamping.copies_root().exists()


def test_a_damaged_docx_downloads_as_its_own_bytes(
    team: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    damaged = docx_bytes()[:2000]  # a zip's start, cut short
    v1 = upload(team.editor, team.workspace, "broken.docx", damaged)

    with caplog.at_level(logging.WARNING, logger="commonroom.documents.stamping"):
        response = download(team.viewer, v1)

    assert body_of(response) == damaged
    assert response["ETag"] == f'"{v1.blob_id}"'
    assert response["Content-Length"] == str(len(damaged))
    assert "served unstamped" in caplog.text
    # Known now: the next download does not try again.
    monkeypatch.setattr(stamping, "run_child", pytest.fail)
    assert body_of(download(team.viewer, v1)) == damaged


@pytest.mark.parametrize(
    ("run", "logged"),
    [
        (ChildRun(code=None), "stopped after"),
        (ChildRun(code=-9, errors="Killed"), "the child ended with -9"),
        (ChildRun(code=0), "no usable answer"),
        (
            ChildRun(code=0, answer={"ok": False, "refused": True, "missing": ["landlock-files"]}),
            "COMMONROOM_PREVIEW_CONFINE=required",
        ),
    ],
)
def test_a_stamp_that_fails_leaves_the_download_as_it_was_and_is_tried_again(
    team: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    run: ChildRun,
    logged: str,
) -> None:
    original = docx_bytes()
    v1 = upload(team.editor, team.workspace, "minutes.docx", original)
    real = stamping.run_child
    monkeypatch.setattr(stamping, "run_child", lambda *a, **k: run)

    with caplog.at_level(logging.WARNING, logger="commonroom.documents.stamping"):
        response = download(team.viewer, v1)

    assert response.status_code == 200
    assert body_of(response) == original and response["ETag"] == f'"{v1.blob_id}"'
    assert logged in caplog.text
    monkeypatch.setattr(stamping, "run_child", real)
    assert stamp_in(body_of(download(team.viewer, v1))) == stamp_of(v1)


@pytest.mark.parametrize(
    ("name", "content"),
    [("minutes.txt", b"Plain minutes"), ("notes.docx", b"Not a zip at all")],
)
def test_files_that_are_not_office_zips_are_untouched(
    team: Any, monkeypatch: pytest.MonkeyPatch, name: str, content: bytes
) -> None:
    monkeypatch.setattr(stamping, "run_child", pytest.fail)  # no child is even started
    v1 = upload(team.editor, team.workspace, name, content)
    response = download(team.viewer, v1)
    assert body_of(response) == content and response["ETag"] == f'"{v1.blob_id}"'


def test_a_zip_that_is_not_an_office_file_is_untouched(team: Any) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as bundle:
        bundle.writestr("notes.txt", "Plain notes")
    archive = out.getvalue()
    v1 = upload(team.editor, team.workspace, "bundle.zip", archive)
    assert v1.content_type == "application/zip"
    assert body_of(download(team.viewer, v1)) == archive


def test_the_collector_removes_the_stamped_copies_with_their_blob(team: Any) -> None:
    v1 = upload(team.editor, team.workspace, "minutes.docx", docx_bytes())
    download(team.viewer, v1)
    folder = stamping.copies_root() / v1.blob_id[:2] / v1.blob_id
    assert len(list(folder.iterdir())) == 1
    services.document_delete(
        actor=team.manager, doc_access=doc_access_for(team.manager, v1.document)
    )
    services.document_purge(
        actor=team.manager,
        access=doc_access_for(team.manager, v1.document, include_trash=True).access,
        document=v1.document,
    )
    assert services.blobs_collect_garbage(grace=timedelta(0)) >= 1
    assert not folder.exists()


# --- Byte ranges and HEAD ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "build"), [("paper.docx", docx_bytes), ("notes.txt", None)])
def test_ranges_are_of_the_file_sent(team: Any, name: str, build: Any) -> None:
    content = build() if build else b"0123456789" * 50
    v1 = upload(team.editor, team.workspace, name, content)
    whole = download(team.viewer, v1)
    full, etag = body_of(whole), whole["ETag"]
    assert whole["Accept-Ranges"] == "bytes"
    size = len(full)

    first = download(team.viewer, v1, Range="bytes=0-99")
    assert first.status_code == 206
    assert body_of(first) == full[:100]
    assert first["Content-Range"] == f"bytes 0-99/{size}"
    assert first["Content-Length"] == "100"
    assert first["ETag"] == etag

    rest = download(team.viewer, v1, Range="bytes=100-", **{"If-Range": etag})
    assert rest.status_code == 206 and body_of(rest) == full[100:]
    tail = download(team.viewer, v1, Range="bytes=-10")
    assert tail.status_code == 206 and body_of(tail) == full[-10:]
    past = download(team.viewer, v1, Range=f"bytes={size - 5}-{size + 50}")
    assert (
        body_of(past) == full[-5:]
        and past["Content-Range"] == f"bytes {size - 5}-{size - 1}/{size}"
    )

    # Another file than the client had, several ranges, or nonsense: the whole file.
    for headers in (
        {"Range": "bytes=100-", "If-Range": '"' + "0" * 64 + '"'},
        {"Range": "bytes=0-1,5-6"},
        {"Range": "lines=1-2"},
        {"Range": "bytes=9-3"},
    ):
        response = download(team.viewer, v1, **headers)
        assert response.status_code == 200, headers
        assert body_of(response) == full

    beyond = download(team.viewer, v1, Range=f"bytes={size}-")
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{size}"


def test_head_answers_the_headers_of_get(team: Any) -> None:
    v1 = upload(team.editor, team.workspace, "paper.docx", docx_bytes())
    got = download(team.viewer, v1)
    head = client_for(team.viewer).head(download_url(v1))
    assert head.status_code == 200
    for header in ("Content-Length", "ETag", "Content-Type", "Content-Disposition"):
        assert head[header] == got[header], header


# --- Uploads: the stamp read back ---------------------------------------------------------------


def three_versions(team: Any) -> tuple[Version, bytes]:
    """Version 1 of minutes.docx, downloaded by Tom; then versions 2 and 3 by Priya."""
    v1 = upload(team.editor, team.workspace, "minutes.docx", docx_bytes("First draft"))
    copy = body_of(download(team.editor, v1))
    new_version(team.manager, v1.document, docx_bytes("Second draft"))
    new_version(team.manager, v1.document, docx_bytes("Third draft"))
    return v1, copy


def test_a_stale_copy_uploaded_from_a_fresh_page_is_flagged(team: Any) -> None:
    v1, copy = three_versions(team)
    edited = edited_docx(copy, "Added offline")  # Word keeps the custom properties

    response = page_upload(team.editor, v1, edited, based_on=3)  # the page says: latest, 3

    assert response.status_code == 200
    answer = response.json()
    assert answer["version"] == 4
    assert (answer["based_on"], answer["based_on_latest"], answer["based_on_from_file"]) == (
        1,
        False,
        True,
    )
    assert "not the latest (this file was downloaded from version 1)" in answer["message"]
    v4 = Version.objects.get(document=v1.document, number=4)
    assert (v4.based_on_number, v4.based_on_latest, v4.based_on_from_file) == (1, False, True)
    page = document_page(team.viewer, v1)
    assert "Based on version 1, not the latest" in page
    assert "This file was downloaded from version 1." in page
    assert "this file was downloaded from version 1" in page  # the warning at the top
    audited = AuditEvent.objects.filter(action="version.uploaded").latest("seq")
    assert audited.data["based_on"] == 1 and audited.data["based_on_from_file"] is True


def test_the_flag_is_said_after_a_plain_form_post_too(team: Any) -> None:
    v1, copy = three_versions(team)
    document = v1.document
    client = client_for(team.editor)
    response = client.post(
        reverse("version_upload", args=[document.workspace_id, document.pk]),
        {"file": SimpleUploadedFile("minutes.docx", edited_docx(copy, "x")), "based_on": "3"},
        follow=True,
    )
    html = response.content.decode()
    assert "Version 4 uploaded. It was based on version 1, not the latest" in html
    assert "(this file was downloaded from version 1)" in html


def test_the_files_stamp_wins_when_the_page_is_older(team: Any) -> None:
    """An old page (its hidden field says 1) sends a copy of the latest version: not crossed."""
    v1 = upload(team.editor, team.workspace, "minutes.docx", docx_bytes("First"))
    v2 = new_version(team.manager, v1.document, docx_bytes("Second"))
    copy = body_of(download(team.editor, v2))
    answer = page_upload(team.editor, v1, edited_docx(copy, "More"), based_on=1).json()
    assert (answer["based_on"], answer["based_on_latest"], answer["based_on_from_file"]) == (
        2,
        True,
        True,
    )


def test_a_stale_copy_dropped_into_its_folder_is_flagged_too(team: Any) -> None:
    _v1, copy = three_versions(team)
    client = client_for(team.editor)
    response = client.post(
        reverse("upload", args=[team.workspace.pk]),
        {"files": [SimpleUploadedFile("minutes.docx", edited_docx(copy, "Offline"))]},
        headers={"Accept": "application/json"},
    )
    (made,) = response.json()["uploaded"]
    assert (made["version"], made["based_on"], made["based_on_from_file"]) == (4, 1, True)
    assert "downloaded from version 1" in made["message"]


def test_a_copy_sent_back_unchanged_is_that_versions_bytes(team: Any) -> None:
    v1, copy = three_versions(team)

    answer = page_upload(team.editor, v1, copy, based_on=3).json()

    assert answer["version"] == 4 and answer["identical_to"] == 1
    assert "It is identical to version 1." in answer["message"]
    v4 = Version.objects.get(document=v1.document, number=4)
    assert v4.blob_id == v1.blob_id and v4.identical_to_number == 1
    assert "Identical to version 1" in document_page(team.viewer, v1)
    # The latest's own copy sent back unchanged is the latest: nothing new is made.
    latest_copy = body_of(download(team.editor, v4))
    refused = page_upload(team.editor, v1, latest_copy, based_on=4)
    assert refused.status_code == 409 and refused.json()["code"] == "same_as_latest"


def test_bytes_of_an_earlier_version_are_said_to_be_so(team: Any) -> None:
    v1 = upload(team.editor, team.workspace, "minutes.txt", b"First")
    new_version(team.editor, v1.document, b"Second")
    answer = page_upload(team.editor, v1, b"First", based_on=2).json()
    assert answer["identical_to"] == 1 and answer["message"] == (
        "Version 3 uploaded. It is identical to version 1."
    )
    assert Version.objects.get(document=v1.document, number=3).identical_to_number == 1
    assert "Identical to version 1" in document_page(team.viewer, v1)
    services.version_restore(
        actor=team.manager, doc_access=doc_access_for(team.manager, v1.document), number=2
    )
    restored = Version.objects.get(document=v1.document, number=4)
    assert restored.identical_to_number == 2  # the restore tag says it on the page
    assert "Restored from version 2" in document_page(team.viewer, v1)


# --- Forged stamps -------------------------------------------------------------------------------


def _forged(team: Any, value: Any) -> tuple[Version, bytes]:
    v1 = upload(team.editor, team.workspace, "minutes.docx", docx_bytes("First"))
    new_version(team.editor, v1.document, docx_bytes("Second"))
    other = upload(team.editor, team.workspace, "other.docx", docx_bytes("Other"))
    text = value(v1, other) if callable(value) else value
    xml = text if isinstance(text, bytes) else custom_xml(text)
    return v1, with_custom_part(docx_bytes("Forged"), xml)


FORGERIES = {
    "another document": (
        lambda v1, other: stamp_of(other),
        "carries the stamp of document",
    ),
    "a version it does not have": (
        lambda v1, other: f"{v1.document_id} version 999 sha256 {v1.blob_id}",
        "which it does not have",
    ),
    "another version's bytes": (
        lambda v1, other: f"{v1.document_id} version 1 sha256 {'0' * 64}",
        "but other bytes",
    ),
    "garbage": ("version one, honest", "not a stamp of ours"),
    "a long value": (lambda v1, other: stamp_of(v1) + " " + "9" * 400, "not a stamp of ours"),
    "a huge value": (lambda v1, other: stamp_of(v1) + secrets.token_hex(50_000), None),
    "a huge value that packs small": (
        lambda v1, other: stamp_of(v1) + "9" * 1_000_000,
        "was not read for a stamp",  # refused by the zip's ratio cap, unread
    ),
    "an entity bomb": (ENTITY_BOMB, "was not read for a stamp"),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_stamp_is_ignored(
    team: Any, caplog: pytest.LogCaptureFixture, forgery: str
) -> None:
    value, logged = FORGERIES[forgery]
    v1, forged = _forged(team, value)

    with caplog.at_level(logging.INFO, logger="commonroom.documents"):
        version = services.version_upload(
            actor=team.editor,
            doc_access=doc_access_for(team.editor, v1.document),
            uploaded=SimpleUploadedFile("minutes.docx", forged),
        )

    assert version.number == 3
    assert (version.based_on_number, version.based_on_latest) == (2, True)
    assert version.based_on_from_file is False
    if logged:
        assert logged in caplog.text
    else:
        assert "stamp" not in caplog.text.lower()


def test_a_forged_stamp_does_not_override_the_page(team: Any) -> None:
    """The page's own base still counts when the file's stamp is not believed."""
    v1, forged = _forged(team, lambda v1, other: stamp_of(other))
    answer = page_upload(team.editor, v1, forged, based_on=1).json()
    assert (answer["based_on"], answer["based_on_latest"], answer["based_on_from_file"]) == (
        1,
        False,
        False,
    )
    assert "downloaded" not in answer["message"]
