"""The same bad input through the JSON API: a clear JSON error, and nothing kept."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from commonroom.accounts.services import token_create
from commonroom.documents.models import Version
from commonroom.documents.tests.factories import upload
from commonroom.documents.tests.support import multipart, png_bytes
from commonroom.workspaces.tests.factories import make_workspace


@pytest.fixture
def api(team):
    secret = token_create(actor=team.editor, name="script", scope="write").secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def documents_url(workspace_id) -> str:
    return f"/api/v1/workspaces/{workspace_id}/documents"


def versions_url(workspace_id, document_id) -> str:
    return f"/api/v1/workspaces/{workspace_id}/documents/{document_id}/versions"


def post_file(client, url, name, content, ctype="text/plain", fields=()):
    body, content_type = multipart(fields, [("file", name, content, ctype)])
    return client.post(url, body, content_type=content_type)


def test_an_upload_through_the_api(team, api):
    response = post_file(api, documents_url(team.workspace.pk), "../../minutes\u202e.txt", b"v1")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["document"]["name"] == "minutes.txt"
    assert data["version"]["number"] == 1
    assert data["document"]["abilities"]["upload_version"] is True


def test_a_name_with_nothing_usable_is_a_400(team, api, store):
    before = store.now()
    response = post_file(api, documents_url(team.workspace.pk), "....", b"x")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_filename"
    assert store.now() == before


def test_an_over_size_upload_is_a_413_and_nothing_kept(team, api, store, settings):
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 1000
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    before = store.now()
    for url in (documents_url(team.workspace.pk), versions_url(team.workspace.pk, doc.pk)):
        response = post_file(api, url, "big.bin", b"x" * 5000)
        assert response.status_code == 413, url
        assert response.json() == {
            "code": "too_large",
            "detail": "That file is larger than the limit of 1000 bytes. Nothing was saved.",
        }
    assert store.now() == before


def test_the_same_upload_key_twice_is_one_version(team, api):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    fields = [("based_on", "1"), ("upload_key", "retry-1")]
    url = versions_url(team.workspace.pk, doc.pk)
    first = post_file(api, url, "minutes.txt", b"v2", fields=fields)
    second = post_file(api, url, "minutes.txt", b"v2", fields=fields)
    assert first.json()["number"] == second.json()["number"] == 2
    assert Version.objects.filter(document=doc).count() == 2


def test_a_crossed_amendment_is_flagged(team, api):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    url = versions_url(team.workspace.pk, doc.pk)
    post_file(api, url, "minutes.txt", b"a", fields=[("based_on", "1")])
    late = post_file(api, url, "minutes.txt", b"b", fields=[("based_on", "1")]).json()
    assert (late["number"], late["based_on"], late["based_on_latest"]) == (3, 1, False)


def test_a_based_on_that_does_not_exist_is_a_400_and_nothing_kept(team, api, store):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    before = store.now()
    response = post_file(
        api, versions_url(team.workspace.pk, doc.pk), "m.txt", b"new", fields=[("based_on", "5")]
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_based_on"
    assert store.now() == before


def test_a_lying_content_type_is_replaced_and_downloads_as_an_attachment(team, api):
    png = png_bytes()
    created = post_file(api, documents_url(team.workspace.pk), "x.pdf", png, "application/pdf")
    version = created.json()["version"]
    assert version["content_type"] == "image/png"
    doc_id = created.json()["document"]["id"]
    download = api.get(versions_url(team.workspace.pk, doc_id) + "/1/content")
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png"
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download.getvalue() == png


def test_forged_ids_are_404_and_nothing_kept(team, api, store):
    mine = upload(team.editor, team.workspace, "minutes.txt", b"mine").document
    other_ws = make_workspace(manager=team.outsider, name="Elsewhere")
    theirs = upload(team.outsider, other_ws, "secret.txt", b"secret").document
    ws, rand = team.workspace.pk, uuid.uuid4()
    before = store.now()

    for url in [
        documents_url(rand),
        documents_url(other_ws.pk),
        documents_url("not-a-uuid"),
        f"{documents_url(ws)}/{rand}",
        f"{documents_url(ws)}/{theirs.pk}",
        f"{documents_url(other_ws.pk)}/{theirs.pk}",
        f"{documents_url(ws)}/not-a-uuid",
        f"{versions_url(ws, mine.pk)}/2",
        f"{versions_url(ws, mine.pk)}/2/content",
        f"{versions_url(ws, theirs.pk)}/1/content",
    ]:
        assert api.get(url).status_code == 404, url

    for url, fields in [
        (documents_url(rand), []),
        (documents_url(other_ws.pk), []),
        (documents_url(ws), [("folder_id", str(rand))]),
        (versions_url(ws, rand), []),
        (versions_url(ws, theirs.pk), []),
        (versions_url(other_ws.pk, theirs.pk), []),
    ]:
        response = post_file(api, url, "forged.txt", b"forged", fields=fields)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"
    assert store.now() == before


def test_a_read_only_token_cannot_upload(team, store):
    secret = token_create(actor=team.editor, name="reader", scope="read").secret
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    before = store.now()
    response = post_file(client, documents_url(team.workspace.pk), "minutes.txt", b"x")
    assert response.status_code == 403
    assert store.now() == before


def test_a_session_post_without_a_csrf_token_is_refused_and_nothing_kept(team, store):
    client = Client(enforce_csrf_checks=True)
    client.force_login(team.editor)
    before = store.now()
    response = post_file(client, documents_url(team.workspace.pk), "minutes.txt", b"x")
    assert response.status_code == 403
    assert store.now() == before

    # With the token from the page's cookie the same request is accepted.
    client.get(f"/w/{team.workspace.pk}/")
    body, ctype = multipart(files=[("file", "minutes.txt", b"x", "text/plain")])
    response = client.post(
        documents_url(team.workspace.pk),
        body,
        content_type=ctype,
        headers={"X-CSRFToken": client.cookies["csrftoken"].value},
    )
    assert response.status_code == 201, response.content
