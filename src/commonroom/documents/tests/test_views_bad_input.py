"""Bad input through the real pages gets a clear error and keeps nothing.

Bodies are written by hand (see ``support.multipart``) so that file names reach the server exactly
as a hostile or broken client would send them.
"""

from __future__ import annotations

import hashlib
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.audit.models import Action, AuditEvent
from commonroom.documents.models import Blob, Document, Folder, Version
from commonroom.documents.tests.factories import make_folder, new_version, upload
from commonroom.documents.tests.support import multipart, png_bytes
from commonroom.workspaces.tests.factories import add_member, make_workspace

JSON = {"Accept": "application/json"}


def client_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def upload_url(workspace) -> str:
    return reverse("upload", args=[workspace.pk])


def version_url(document) -> str:
    return reverse("version_upload", args=[document.workspace_id, document.pk])


def download_url(document, number: int) -> str:
    return reverse("version_download", args=[document.workspace_id, document.pk, number])


def post_files(client, url, files, fields=(), headers=JSON):
    body, ctype = multipart(fields, files)
    return client.post(url, data=body, content_type=ctype, headers=headers)


def one_file(name: str, content: bytes = b"minutes", ctype: str = "text/plain"):
    return [("files", name, content, ctype)]


@pytest.fixture
def editor(team) -> Client:
    return client_for(team.editor)


def only_blob_files(store) -> list[str]:
    """The files in storage; each must sit under its blob name and nowhere else."""
    names = store.now().media
    expected = sorted(
        store.blob_path(sha).relative_to(store.media_root).as_posix()
        for sha in Blob.objects.values_list("sha256", flat=True)
    )
    assert names == expected
    return names


# --- File names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..%2F..%2Fsecret.txt", "%2F..%2Fsecret.txt"),  # not decoded; leading dots go
        ("/etc/passwd", "passwd"),
        ("C:\\Windows\\System32\\evil.txt", "evil.txt"),
        ("board\x00minutes.txt", "boardminutes.txt"),
        ("board\x07\x1b\x7fminutes.txt", "boardminutes.txt"),
        ("invoice\u202excod.exe", "invoicexcod.exe"),
        ("x" * 296 + ".pdf", "x" * 251 + ".pdf"),
    ],
)
def test_a_hostile_file_name_is_stored_as_a_safe_name(team, editor, store, sent, stored):
    response = post_files(editor, upload_url(team.workspace), one_file(sent))

    assert response.status_code == 200, response.content
    assert response.json()["uploaded"][0]["name"] == stored
    doc = Document.objects.get()
    assert doc.name == stored
    assert Version.objects.get().filename == stored
    assert len(stored) <= 255
    # The bytes live only under their content hash, never under a name the client chose.
    assert only_blob_files(store) == [
        store.blob_path(hashlib.sha256(b"minutes").hexdigest())
        .relative_to(store.media_root)
        .as_posix()
    ]
    assert store.now().upload_tmp == []


@pytest.mark.parametrize("sent", ["....", ". . .", "\u202e...", " "])
def test_a_file_name_with_nothing_usable_is_refused_and_nothing_kept(team, editor, store, sent):
    before = store.now()
    response = post_files(editor, upload_url(team.workspace), one_file(sent))

    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_filename", "no_file"}
    assert store.now() == before


@pytest.mark.parametrize("sent", ["..", ".", "", "../..", "\x00\x01"])
def test_a_file_with_no_name_at_all_is_refused_and_nothing_kept(team, editor, store, sent):
    before = store.now()
    response = post_files(editor, upload_url(team.workspace), one_file(sent))

    assert response.status_code == 400
    assert response.json() == {
        "code": "no_file",
        "detail": "Choose at least one file to upload.",
    }
    assert store.now() == before


def test_the_refusal_is_shown_on_the_page_without_javascript(team, editor, store):
    before = store.now()
    response = post_files(editor, upload_url(team.workspace), one_file("...."), headers={})
    assert response.status_code == 302
    page = editor.get(response["Location"])
    assert "That file name has no usable characters" in page.content.decode()
    assert store.now() == before


def test_a_version_with_a_hostile_name_keeps_a_safe_name(team, editor, store):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    body = [("file", "../../minutes\u202e.txt", b"v2", "text/plain")]
    response = post_files(editor, version_url(doc), body)
    assert response.status_code == 200, response.content
    assert Version.objects.get(number=2).filename == "minutes.txt"
    only_blob_files(store)


# --- Empty files and lying types -----------------------------------------------------------------


def test_a_zero_byte_file_is_accepted_and_downloads_empty(team, editor, store):
    response = post_files(editor, upload_url(team.workspace), one_file("empty.txt", b""))
    assert response.status_code == 200, response.content

    version = Version.objects.get()
    assert version.size == 0
    assert version.blob_id == hashlib.sha256(b"").hexdigest()
    download = editor.get(download_url(version.document, 1))
    assert download.status_code == 200
    assert download.getvalue() == b""
    assert download["Content-Length"] == "0"
    assert store.now().upload_tmp == []


def test_a_content_type_that_lies_is_replaced_by_what_the_bytes_are(team, editor):
    png = png_bytes()
    response = post_files(
        editor, upload_url(team.workspace), [("files", "x.pdf", png, "application/pdf")]
    )
    assert response.status_code == 200, response.content

    version = Version.objects.get()
    assert version.content_type == "image/png"
    download = editor.get(download_url(version.document, 1))
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png"
    assert download["Content-Disposition"].startswith("attachment;")
    assert 'filename="x (version 1).pdf"' in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download.getvalue() == png


def test_html_is_only_ever_an_attachment(team, editor):
    evil = b"<html><script>alert(document.cookie)</script></html>"
    post_files(editor, upload_url(team.workspace), [("files", "notes.html", evil, "image/png")])
    version = Version.objects.get()
    download = editor.get(download_url(version.document, 1))
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Security-Policy"] == "sandbox"
    assert download.getvalue() == evil


# --- Over-size uploads --------------------------------------------------------------------------


LIMIT_MESSAGE = "That file is larger than the limit of 1000 bytes. Nothing was saved."


@pytest.fixture
def small_limit(settings):
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 1000


def test_an_over_size_upload_is_refused_with_413_and_nothing_kept(team, editor, store, small_limit):
    before = store.now()
    response = post_files(editor, upload_url(team.workspace), one_file("big.bin", b"x" * 5000))

    assert response.status_code == 413
    assert response.json() == {"code": "too_large", "detail": LIMIT_MESSAGE}
    assert store.now() == before


def test_a_file_just_at_the_limit_is_accepted(team, editor, store, small_limit):
    response = post_files(editor, upload_url(team.workspace), one_file("ok.bin", b"x" * 1000))
    assert response.status_code == 200, response.content
    assert Version.objects.get().size == 1000


def test_one_over_size_file_among_several_keeps_none_of_them(team, editor, store, small_limit):
    before = store.now()
    files = [
        ("files", "small.txt", b"small", "text/plain"),
        ("files", "big.bin", b"x" * 5000, "application/octet-stream"),
        ("files", "after.txt", b"after", "text/plain"),
    ]
    response = post_files(editor, upload_url(team.workspace), files)
    assert response.status_code == 413
    assert store.now() == before


def test_an_over_size_new_version_is_refused_with_413_and_nothing_kept(
    team, editor, store, small_limit
):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    before = store.now()
    response = post_files(
        editor,
        version_url(doc),
        [("file", "minutes.txt", b"x" * 5000, "text/plain")],
        fields=[("based_on", "1")],
    )
    assert response.status_code == 413
    assert response.json()["detail"] == LIMIT_MESSAGE
    assert store.now() == before
    assert Document.objects.get().current_version_number == 1


def test_an_over_size_upload_without_javascript_says_why_on_the_page(
    team, editor, store, small_limit
):
    before = store.now()
    response = post_files(
        editor, upload_url(team.workspace), one_file("big.bin", b"x" * 5000), headers={}
    )
    assert response.status_code == 302
    assert LIMIT_MESSAGE in editor.get(response["Location"]).content.decode()
    assert store.now() == before


# --- The same upload twice ----------------------------------------------------------------------


def test_the_same_upload_sent_twice_with_its_key_gives_one_version(team, editor, store):
    files = one_file("minutes.txt", b"retry me")
    fields = [("upload_key", "0f8fad5b-d9cb-469f-a165-70867728950e")]
    first = post_files(editor, upload_url(team.workspace), files, fields)
    second = post_files(editor, upload_url(team.workspace), files, fields)

    assert first.status_code == second.status_code == 200
    assert first.json()["uploaded"] == second.json()["uploaded"]
    assert Version.objects.count() == 1
    assert Blob.objects.count() == 1
    assert len(only_blob_files(store)) == 1
    assert AuditEvent.objects.filter(action=Action.DOCUMENT_UPLOADED).count() == 1


def test_the_same_new_version_sent_twice_with_its_key_gives_one_version(team, editor):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    files = [("file", "minutes.txt", b"v2", "text/plain")]
    fields = [("based_on", "1"), ("upload_key", "retry-42")]
    first = post_files(editor, version_url(doc), files, fields)
    second = post_files(editor, version_url(doc), files, fields)

    assert first.json()["version"] == second.json()["version"] == 2
    assert list(doc.versions.values_list("number", flat=True)) == [2, 1]
    assert AuditEvent.objects.filter(action=Action.VERSION_UPLOADED).count() == 1


def test_without_a_key_the_same_bytes_again_are_left_out_and_said_so(team, editor):
    """The same file sent again without its key is not a retry, yet its bytes are the latest
    version's: no second version, and the answer says so. Changed bytes are a new version."""
    files = one_file("minutes.txt", b"same")
    post_files(editor, upload_url(team.workspace), files)
    again = post_files(editor, upload_url(team.workspace), files).json()
    assert again["uploaded"] == []
    assert again["unchanged"] == [
        "minutes.txt: This file is the same as version 1, the latest: no new version was made."
    ]
    assert list(Version.objects.values_list("number", flat=True)) == [1]
    assert Blob.objects.count() == 1
    post_files(editor, upload_url(team.workspace), one_file("minutes.txt", b"changed"))
    assert list(Version.objects.values_list("number", flat=True)) == [2, 1]


# --- Crossed amendments ----------------------------------------------------------------------


def test_an_amendment_of_an_older_version_is_kept_and_flagged_for_everyone(team, editor):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    new_version(team.manager, doc, b"priya's amendment", based_on_number=1)

    response = post_files(
        editor,
        version_url(doc),
        [("file", "minutes.txt", b"tom's amendment", "text/plain")],
        fields=[("based_on", "1")],
    )

    assert response.status_code == 200
    assert response.json()["version"] == 3
    assert "based on version 1, not the latest" in response.json()["message"]
    page = client_for(team.viewer).get(reverse("document_detail", args=[team.workspace.pk, doc.pk]))
    assert "Based on version 1, not the latest" in page.content.decode()


# --- Forged ids -----------------------------------------------------------------------------


@pytest.fixture
def elsewhere(team):
    """Another workspace with a document, which the editor is not a member of."""
    ws = make_workspace(manager=team.outsider, name="Elsewhere")
    return upload(team.outsider, ws, "secret.txt", b"secret").document


@pytest.fixture
def mine(team):
    return upload(team.editor, team.workspace, "minutes.txt", b"mine").document


def forged_pages(team, mine, elsewhere) -> list[str]:
    ws, other_ws = team.workspace.pk, elsewhere.workspace_id
    rand = uuid.uuid4()
    return [
        f"/w/{rand}/",
        f"/w/{rand}/d/{mine.pk}/",
        f"/w/{ws}/d/{rand}/",
        f"/w/{ws}/d/{elsewhere.pk}/",  # another workspace's document under my workspace
        f"/w/{other_ws}/d/{elsewhere.pk}/",  # ... and under its own
        f"/w/{other_ws}/",
        f"/w/{ws}/d/{mine.pk}/v/2/download/",
        f"/w/{ws}/d/{mine.pk}/v/0/download/",
        f"/w/{ws}/d/{elsewhere.pk}/v/1/download/",
        f"/w/{ws}/f/{rand}/",
        "/w/not-a-uuid/",
        f"/w/{ws}/d/not-a-uuid/",
        f"/w/{ws}/d/{str(mine.pk)[:-1]}/",
        f"/w/{ws}/d/{mine.pk}/v/one/download/",
        f"/w/{ws}/d/{mine.pk}/v/-1/download/",
    ]


def test_forged_ids_in_pages_are_not_found(team, editor, mine, elsewhere):
    for url in forged_pages(team, mine, elsewhere):
        assert editor.get(url).status_code == 404, url
    # The same pages with real ids work, so the 404s above are about the ids.
    assert editor.get(f"/w/{team.workspace.pk}/d/{mine.pk}/").status_code == 200
    assert editor.get(download_url(mine, 1)).status_code == 200


def test_a_member_of_both_workspaces_cannot_mix_their_ids(team, editor, mine, elsewhere):
    add_member(elsewhere.workspace, team.editor, "manager")
    assert editor.get(f"/w/{elsewhere.workspace_id}/d/{elsewhere.pk}/").status_code == 200
    assert editor.get(f"/w/{team.workspace.pk}/d/{elsewhere.pk}/").status_code == 404
    assert editor.get(f"/w/{elsewhere.workspace_id}/d/{mine.pk}/").status_code == 404


def test_forged_ids_in_uploads_are_not_found_and_nothing_kept(team, editor, store, mine, elsewhere):
    theirs = make_folder(team.outsider, elsewhere.workspace, "Theirs")
    before = store.now()
    files = one_file("minutes.txt", b"forged")
    version = [("file", "minutes.txt", b"forged", "text/plain")]
    attempts = [
        (f"/w/{uuid.uuid4()}/upload/", files, []),
        (upload_url(elsewhere.workspace), files, []),
        (upload_url(team.workspace), files, [("folder", str(theirs.pk))]),
        (upload_url(team.workspace), files, [("folder", str(uuid.uuid4()))]),
        (upload_url(team.workspace), files, [("folder", "not-a-uuid")]),
        (f"/w/{team.workspace.pk}/d/{uuid.uuid4()}/versions/", version, []),
        (f"/w/{team.workspace.pk}/d/{elsewhere.pk}/versions/", version, []),
        (version_url(elsewhere), version, []),
    ]
    for url, body, fields in attempts:
        response = post_files(editor, url, body, fields)
        assert response.status_code == 404, url
        assert store.now() == before, url
    assert Document.objects.get(pk=elsewhere.pk).current_version_number == 1


def test_forged_ids_in_document_actions_change_nothing(team, editor, mine, elsewhere):
    for url, data in [
        (f"/w/{team.workspace.pk}/d/{elsewhere.pk}/action/", {"action": "delete"}),
        (f"/w/{team.workspace.pk}/d/{mine.pk}/action/", {"action": "move", "folder": "x"}),
        (
            f"/w/{team.workspace.pk}/d/{mine.pk}/action/",
            {"action": "move", "folder": str(uuid.uuid4())},
        ),
    ]:
        assert editor.post(url, data).status_code == 404, url
    mine_folder = make_folder(team.editor, team.workspace, "Board")
    theirs = make_folder(team.outsider, elsewhere.workspace, "Theirs")
    for url, data in [
        (
            reverse("folder_action", args=[team.workspace.pk, mine_folder.pk]),
            {"action": "move", "parent": str(theirs.pk)},
        ),
        (reverse("folder_action", args=[team.workspace.pk, theirs.pk]), {"action": "delete"}),
        (reverse("folder_action", args=[elsewhere.workspace_id, theirs.pk]), {"action": "delete"}),
    ]:
        assert editor.post(url, data).status_code == 404, url
    assert Folder.objects.filter(deleted_at__isnull=True, parent__isnull=True).count() == 2
    # Restoring a version number that does not exist is not found, and adds no version.
    response = editor.post(
        f"/w/{team.workspace.pk}/d/{mine.pk}/action/",
        {"action": "restore_version", "number": "7"},
    )
    assert response.status_code == 404
    assert Document.objects.filter(deleted_at__isnull=True).count() == 2
    assert Version.objects.filter(document=mine).count() == 1


# --- Cross-site request forgery ------------------------------------------------------------


def test_a_post_without_a_csrf_token_is_refused_and_nothing_kept(team, store):
    client = client_for(team.editor, enforce_csrf_checks=True)
    client.get(reverse("workspace_detail", args=[team.workspace.pk]))  # sets the CSRF cookie
    before = store.now()

    response = post_files(client, upload_url(team.workspace), one_file("minutes.txt", b"csrf"))

    assert response.status_code == 403
    assert store.now() == before

    # The same request with the page's token is accepted: the refusal was about the token.
    token = client.cookies["csrftoken"].value
    ok = post_files(
        client,
        upload_url(team.workspace),
        one_file("minutes.txt", b"csrf"),
        fields=[("csrfmiddlewaretoken", token)],
    )
    assert ok.status_code == 200, ok.content
    assert Version.objects.count() == 1


def test_document_actions_without_a_csrf_token_change_nothing(team, mine):
    client = client_for(team.editor, enforce_csrf_checks=True)
    url = reverse("document_action", args=[team.workspace.pk, mine.pk])
    for data in ({"action": "delete"}, {"action": "rename", "name": "hijacked.txt"}):
        assert client.post(url, data).status_code == 403
    mine.refresh_from_db()
    assert (mine.name, mine.deleted_at) == ("minutes.txt", None)
