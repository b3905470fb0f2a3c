"""The HTML error boundary answers a page's script (HX-Request) in words, not with a page."""

from __future__ import annotations

from typing import Any

from django.urls import reverse


def test_a_refusal_to_a_pages_script_is_a_short_plain_message(team: Any, client: Any) -> None:
    client.force_login(team.outsider)
    url = f"/w/{team.workspace.pk}/"
    scripted = client.get(url, headers={"HX-Request": "true"})
    assert scripted.status_code == 404
    assert scripted["Content-Type"] == "text/plain; charset=utf-8"
    assert b"<" not in scripted.content
    assert scripted.content.strip()
    page = client.get(url)
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


SENTENCE = "This page does not exist, or you do not have access to it."


def test_every_404_page_says_the_same_helpful_sentence_and_shows_nothing(
    team: Any, client: Any
) -> None:
    """A workspace or document someone is not a member of, and a page that does not exist at
    all, look the same: 404, the one sentence, nothing of the workspace."""
    from commonroom.workspaces.tests.factories import upload_document

    doc = upload_document(team.workspace, team.editor, name="secret-minutes.txt")
    urls = (
        reverse("workspace_detail", args=[team.workspace.pk]),
        reverse("document_detail", args=[team.workspace.pk, doc.pk]),
    )
    client.force_login(team.editor)
    assert [client.get(url).status_code for url in urls] == [200, 200]  # they are real pages
    client.force_login(team.outsider)
    for url in (*urls, "/no-such-page/"):
        response = client.get(url)
        assert response.status_code == 404, url
        page = response.content.decode()
        assert SENTENCE in page, url
        assert "Not found." not in page, url
        assert team.workspace.name not in page and "secret-minutes" not in page, url
    scripted = client.get(f"/w/{team.workspace.pk}/", headers={"HX-Request": "true"})
    assert scripted.content.decode() == SENTENCE


def test_an_api_404_is_json_with_the_same_sentence_and_no_data(team: Any, client: Any) -> None:
    from commonroom.workspaces.tests.factories import upload_document

    doc = upload_document(team.workspace, team.editor, name="secret-minutes.txt")
    client.force_login(team.outsider)
    base = f"/api/v1/workspaces/{team.workspace.pk}"
    for url in (base, f"{base}/documents/{doc.pk}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response["Content-Type"].startswith("application/json"), url
        assert response.json() == {"code": "not_found", "detail": SENTENCE}, url
