"""Conversation pages and API from the outside: each role, htmx fragments, resends, refusals."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.accounts.services import token_create
from commonroom.conversations.models import Conversation, Message
from commonroom.conversations.tests.helpers import post, start
from commonroom.workspaces.tests.factories import make_workspace, upload_document

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def without_csrf(html: bytes) -> str:
    """The HTML with its CSRF tokens blanked (they differ on every render)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html.decode())


def browser(user):
    client = Client()
    client.force_login(user)
    return client


def api(user):
    secret = token_create(actor=user, name="test", scope="write").secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture
def topic(team):
    conversation = start(team.manager, team.workspace, title="Rota", body="Who covers Friday?")
    post(team.editor, conversation, "I can, with @sam")
    return conversation


def urls(team, topic):
    ws, c = team.workspace.pk, topic.pk
    return {
        "list": reverse("conversation_list", args=[ws]),
        "detail": reverse("conversation_detail", args=[ws, c]),
        "post": reverse("message_post", args=[ws, c]),
        "row": reverse("conversation_row", args=[ws, c]),
    }


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor", "manager"])
def test_every_member_reads_the_list_and_the_conversation(team, topic, role):
    client = browser(team.by_role[role])
    page = client.get(urls(team, topic)["list"]).content.decode()
    assert f'data-live-list="conversations:{team.workspace.pk}"' in page
    assert f'id="conversation-{topic.pk}"' in page
    assert ("Start a conversation" in page) == (role != "viewer")
    detail = client.get(urls(team, topic)["detail"]).content.decode()
    assert f'data-live-list="conversation:{topic.pk}"' in detail
    assert detail.count('<article id="message-') == 2
    assert ('class="cr-composer" data-composer' in detail) == (role != "viewer")
    assert '<span class="cr-mention">@' in detail


def test_a_non_member_gets_404_everywhere(team, topic):
    client = browser(team.outsider)
    message = topic.messages.first()
    for url in [
        *urls(team, topic).values(),
        reverse("message_fragment", args=[team.workspace.pk, topic.pk, message.pk]),
    ]:
        method = client.post if url.endswith("messages/") else client.get
        assert method(url, {"body": "hi"}).status_code == 404, url
    assert Message.objects.count() == 2


def test_unread_badges_and_viewing_marks_read(team, topic):
    client = browser(team.viewer)
    row = client.get(urls(team, topic)["row"]).content.decode()
    assert f'<span data-unread="conversation:{topic.pk}">2</span>' in row
    workspace_page = client.get(reverse("workspace_detail", args=[team.workspace.pk])).content
    total = f'<span data-unread="conversations:{team.workspace.pk}">2</span>'
    assert total.encode() in workspace_page
    client.get(urls(team, topic)["detail"])
    row = client.get(urls(team, topic)["row"]).content.decode()
    assert f'<span data-unread="conversation:{topic.pk}">0</span>' in row
    # The editor's own message does not count for the editor.
    row = browser(team.editor).get(urls(team, topic)["row"]).content.decode()
    assert f'<span data-unread="conversation:{topic.pk}">1</span>' in row


def test_htmx_post_answers_the_fragment_and_a_resend_creates_nothing(team, topic):
    client = browser(team.commenter)
    form = {"body": "On my way", "client_key": "phone-1"}
    first = client.post(urls(team, topic)["post"], form, headers=HX)
    assert first.status_code == 201
    message = Message.objects.get(client_key="phone-1")
    assert first.content.decode().lstrip().startswith(f'<article id="message-{message.pk}"')
    again = client.post(urls(team, topic)["post"], form, headers=HX)
    assert again.status_code == 200
    assert without_csrf(again.content) == without_csrf(first.content)
    assert Message.objects.filter(author=team.commenter).count() == 1
    fragment = client.get(
        reverse("message_fragment", args=[team.workspace.pk, topic.pk, message.pk])
    )
    assert without_csrf(fragment.content) == without_csrf(first.content)


def test_htmx_refusals_answer_status_and_plain_text(team, topic):
    refused = browser(team.viewer).post(urls(team, topic)["post"], {"body": "x"}, headers=HX)
    assert refused.status_code == 403
    assert refused["Content-Type"].startswith("text/plain")
    empty = browser(team.editor).post(urls(team, topic)["post"], {"body": " "}, headers=HX)
    assert (empty.status_code, empty.content) == (400, b"Write something before sending.")
    outsider = browser(team.editor).post(
        urls(team, topic)["post"], {"body": "@outsider@example.org"}, headers=HX
    )
    assert outsider.status_code == 400


def test_plain_posts_redirect_back(team, topic):
    client = browser(team.editor)
    response = client.post(urls(team, topic)["post"], {"body": "Plain form"})
    message = Message.objects.get(body="Plain form")
    assert response.status_code == 302
    assert response["Location"] == urls(team, topic)["detail"] + f"#message-{message.pk}"
    refused = browser(team.viewer).post(urls(team, topic)["post"], {"body": "x"}, follow=True)
    assert "not post" in refused.content.decode()


def test_starting_from_the_page_with_a_linked_document(team):
    doc = upload_document(team.workspace, team.editor, name="rota.xlsx")
    client = browser(team.editor)
    response = client.post(
        reverse("conversation_start", args=[team.workspace.pk]),
        {"title": "Rota", "body": "See attached", "document": str(doc.pk)},
    )
    conversation = Conversation.objects.get()
    assert response["Location"] == reverse(
        "conversation_detail", args=[team.workspace.pk, conversation.pk]
    )
    page = client.get(response["Location"]).content.decode()
    assert reverse("document_detail", args=[team.workspace.pk, doc.pk]) in page


def test_edit_and_delete_from_the_page(team, topic):
    mine = topic.messages.get(author=team.editor)
    ws = team.workspace.pk
    edit_url = reverse("message_edit", args=[ws, topic.pk, mine.pk])
    delete_url = reverse("message_delete", args=[ws, topic.pk, mine.pk])
    assert browser(team.commenter).post(edit_url, {"body": "x"}, headers=HX).status_code == 403
    edited = browser(team.editor).post(edit_url, {"body": "I can"}, headers=HX)
    assert edited.status_code == 200 and "(edited)" in edited.content.decode()
    deleted = browser(team.manager).post(delete_url, headers=HX)
    assert deleted.status_code == 200 and "deleted by a manager" in deleted.content.decode()


def test_earlier_messages_link(team, topic):
    for i in range(55):
        Message.objects.create(
            conversation=topic, author=team.editor, body=f"n{i}", body_html=f"<p>n{i}</p>"
        )
    page = browser(team.viewer).get(urls(team, topic)["detail"]).content.decode()
    assert page.count('<article id="message-') == 50
    assert "Earlier messages" in page


# --- API ---------------------------------------------------------------------------------------


def test_api_happy_path(team, topic):
    ws = team.workspace.pk
    base = f"/api/v1/workspaces/{ws}/conversations"
    listing = api(team.viewer).get(base).json()["items"]
    assert [(c["title"], c["unread"]) for c in listing] == [("Rota", 2)]
    client = api(team.commenter)
    created = client.post(
        base,
        {"title": "Leave", "body": "Dates?", "client_key": "a"},
        content_type="application/json",
    )
    assert created.status_code == 201
    resent = client.post(
        base,
        {"title": "Leave", "body": "Dates?", "client_key": "a"},
        content_type="application/json",
    )
    assert (resent.status_code, resent.json()["id"]) == (200, created.json()["id"])
    cid = created.json()["id"]
    posted = client.post(
        f"{base}/{cid}/messages",
        {"body": "June", "client_key": "b"},
        content_type="application/json",
    )
    assert posted.status_code == 201 and posted.json()["abilities"] == {
        "edit": True,
        "delete": True,
    }
    mid = posted.json()["id"]
    patched = client.patch(
        f"{base}/{cid}/messages/{mid}", {"body": "July"}, content_type="application/json"
    )
    assert (patched.status_code, patched.json()["body"]) == (200, "July")
    detail = api(team.viewer).get(f"{base}/{cid}").json()
    assert [m["body"] for m in detail["messages"]] == ["Dates?", "July"]
    after = api(team.viewer).get(f"{base}/{cid}", {"after": detail["messages"][0]["id"]}).json()
    assert [m["body"] for m in after["messages"]] == ["July"]
    assert api(team.viewer).post(f"{base}/{cid}/read").status_code == 204
    assert api(team.viewer).get(f"{base}/{cid}").json()["conversation"]["unread"] == 0
    assert client.delete(f"{base}/{cid}/messages/{mid}").status_code == 204
    assert Message.objects.get(pk=mid).deleted_at is not None


def test_api_refusals(team, topic):
    ws = team.workspace.pk
    base = f"/api/v1/workspaces/{ws}/conversations"
    assert api(team.outsider).get(base).status_code == 404
    assert api(team.outsider).get(f"{base}/{topic.pk}").status_code == 404
    refused = api(team.viewer).post(
        f"{base}/{topic.pk}/messages", {"body": "x"}, content_type="application/json"
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    other = make_workspace(manager=team.manager, name="Elsewhere")
    foreign = upload_document(other, team.manager, name="secret.txt")
    linked = api(team.editor).post(
        f"{base}/{topic.pk}/messages",
        {"body": "x", "document_id": str(foreign.pk)},
        content_type="application/json",
    )
    assert linked.status_code == 404
    mention = api(team.editor).post(
        f"{base}/{topic.pk}/messages",
        {"body": "@outsider@example.org"},
        content_type="application/json",
    )
    assert (mention.status_code, mention.json()["code"]) == (400, "unknown_mention")
    assert api(team.viewer).get(f"{base}/{topic.pk}", {"limit": 0}).status_code == 400
    assert api(team.viewer).get(f"{base}/{topic.pk}", {"after": "nonsense"}).status_code == 404
    assert Message.objects.count() == 2


def test_api_people_look_like_the_comments_api(team, topic):
    """``{id, name}`` for the author and the starter, ids for mentions; never an email."""
    detail = api(team.viewer).get(
        f"/api/v1/workspaces/{team.workspace.pk}/conversations/{topic.pk}"
    )
    body = detail.json()
    assert body["conversation"]["started_by"] == {
        "id": team.manager.pk,
        "name": team.manager.display_name,
        "is_guest": False,
        "guest_domain": None,
    }
    first, second = body["messages"]
    staff = {"is_guest": False, "guest_domain": None}
    assert first["author"] == {"id": team.manager.pk, "name": team.manager.display_name, **staff}
    assert second["author"] == {"id": team.editor.pk, "name": team.editor.display_name, **staff}
    assert second["mentioned"] == [team.commenter.pk]
    assert "@example.org" not in detail.content.decode()


def test_own_messages_are_marked_as_mine(team, topic):
    first, second = topic.messages.order_by("created_at")  # by the manager, then the editor
    page = browser(team.editor).get(urls(team, topic)["detail"]).content.decode()
    assert f'<article id="message-{first.pk}" class="cr-message" ' in page
    assert f'<article id="message-{second.pk}" class="cr-message cr-message--mine" ' in page
    assert page.count("(you)") == 1
    # The live fragment is drawn for whoever fetches it.
    fragment = reverse("message_fragment", args=[team.workspace.pk, topic.pk, second.pk])
    assert "cr-message--mine" in browser(team.editor).get(fragment, headers=HX).content.decode()
    assert "cr-message--mine" not in browser(team.viewer).get(fragment, headers=HX).content.decode()
