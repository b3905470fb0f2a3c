"""Comments through the JSON API: threads with replies, writes by role and token scope, the
client key on a retry, and refusals in the API's error shape."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from commonroom.accounts.services import token_create
from commonroom.comments import services
from commonroom.comments.models import Comment
from commonroom.documents.tests.factories import doc_access_for, new_version, upload
from commonroom.live.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def doc(team):
    return upload(team.editor, team.workspace, "minutes.docx", b"v1").document


def bearer(user, scope: str = "write") -> Client:
    secret = token_create(actor=user, name=f"tests ({scope})", scope=scope).secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def comments_url(doc, tail: str = "") -> str:
    return f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}/comments{tail}"


def say(user, doc, body="Paragraph 2 needs the agency figure.", **kwargs):
    return services.comment_create(
        actor=user, doc_access=doc_access_for(user, doc), body=body, **kwargs
    )


def test_threads_are_listed_with_their_replies(team, doc):
    thread = say(team.commenter, doc, "@tom **look**", anchor_quote="£2.4m")
    new_version(team.editor, doc, b"v2")
    reply = services.comment_reply(
        actor=team.editor,
        doc_access=doc_access_for(team.editor, doc),
        comment_id=thread.pk,
        body="Done",
    )
    response = bearer(team.viewer, "read").get(comments_url(doc))
    assert response.status_code == 200
    [listed] = response.json()["items"]
    assert listed["id"] == str(thread.pk)
    assert listed["thread"] is None
    assert listed["version"] == 1
    assert listed["author"] == {
        "id": team.commenter.pk,
        "name": team.commenter.display_name,
        "is_guest": False,
        "guest_domain": None,
    }
    assert listed["body"] == "@tom **look**"
    assert "<strong>look</strong>" in listed["body_html"]
    assert listed["mentioned"] == [team.editor.pk]
    assert listed["anchor_quote"] == "£2.4m"
    assert (listed["deleted"], listed["resolved_at"], listed["resolved_by"]) == (False, None, None)
    [answer] = listed["replies"]
    assert (answer["id"], answer["thread"], answer["version"]) == (str(reply.pk), str(thread.pk), 2)


def test_start_reply_edit_resolve_reopen_and_delete(team, doc):
    api = bearer(team.commenter)
    made = api.post(
        comments_url(doc),
        {"body": "Check _this_", "client_key": "k-1"},
        content_type="application/json",
    )
    assert made.status_code == 201
    cid = made.json()["id"]
    assert made.json()["client_key"] == "k-1"
    again = api.post(
        comments_url(doc),
        {"body": "Check _this_", "client_key": "k-1"},
        content_type="application/json",
    )
    assert (again.status_code, again.json()["id"]) == (200, cid)
    replied = api.post(
        comments_url(doc, f"/{cid}/replies"), {"body": "And this"}, content_type="application/json"
    )
    assert replied.status_code == 201 and replied.json()["thread"] == cid
    edited = api.patch(comments_url(doc, f"/{cid}"), {"body": "Checked"}, "application/json")
    assert edited.status_code == 200
    assert edited.json()["body"] == "Checked" and edited.json()["edited_at"] is not None
    resolved = api.post(comments_url(doc, f"/{cid}/resolve"))
    assert resolved.status_code == 200
    assert resolved.json()["resolved_by"] == {
        "id": team.commenter.pk,
        "name": team.commenter.display_name,
        "is_guest": False,
        "guest_domain": None,
    }
    reopened = api.post(comments_url(doc, f"/{cid}/reopen"))
    assert (reopened.status_code, reopened.json()["resolved_at"]) == (200, None)
    assert api.delete(comments_url(doc, f"/{cid}")).status_code == 204
    [thread] = api.get(comments_url(doc)).json()["items"]
    assert (thread["deleted"], thread["body"], thread["body_html"]) == (True, "", "")
    assert Comment.objects.count() == 2
    assert Event.objects.filter(kind="comment.created").count() == 2


def test_a_comment_on_an_earlier_version(team, doc):
    new_version(team.editor, doc, b"v2")
    made = bearer(team.commenter).post(
        comments_url(doc), {"body": "On the draft", "version": 1}, content_type="application/json"
    )
    assert (made.status_code, made.json()["version"]) == (201, 1)
    missing = bearer(team.commenter).post(
        comments_url(doc), {"body": "x", "version": 9}, content_type="application/json"
    )
    assert missing.status_code == 404


def test_refusals(team, doc):
    thread = say(team.commenter, doc)
    viewer = bearer(team.viewer).post(comments_url(doc), {"body": "x"}, "application/json")
    assert viewer.status_code == 403 and viewer.json()["code"] == "permission_denied"
    read_only = bearer(team.commenter, "read").post(
        comments_url(doc), {"body": "x"}, "application/json"
    )
    assert read_only.status_code == 403
    empty = bearer(team.commenter).post(comments_url(doc), {"body": "  "}, "application/json")
    assert (empty.status_code, empty.json()["code"]) == (400, "empty_comment")
    stranger = bearer(team.commenter).post(
        comments_url(doc), {"body": "@outsider@example.org hi"}, "application/json"
    )
    assert (stranger.status_code, stranger.json()["code"]) == (400, "unknown_mention")
    bad_key = bearer(team.commenter).post(
        comments_url(doc), {"body": "x", "client_key": "no spaces"}, "application/json"
    )
    assert bad_key.status_code == 422
    not_author = bearer(team.editor).patch(
        comments_url(doc, f"/{thread.pk}"), {"body": "x"}, "application/json"
    )
    assert not_author.status_code == 403
    assert bearer(team.editor).delete(comments_url(doc, f"/{thread.pk}")).status_code == 403
    assert Comment.objects.get().body == "Paragraph 2 needs the agency figure."


def test_outsiders_and_forged_ids_are_not_found(team, doc):
    thread = say(team.commenter, doc)
    outsider = bearer(team.outsider)
    assert outsider.get(comments_url(doc)).status_code == 404
    assert outsider.post(comments_url(doc), {"body": "x"}, "application/json").status_code == 404
    assert Client().get(comments_url(doc)).status_code == 401
    commenter = bearer(team.commenter)
    other = upload(team.editor, team.workspace, "agenda.docx", b"a").document
    foreign = commenter.post(
        comments_url(other, f"/{thread.pk}/replies"), {"body": "x"}, "application/json"
    )
    assert foreign.status_code == 404
    assert (
        commenter.patch(
            comments_url(doc, f"/{uuid.uuid4()}"), {"body": "x"}, "application/json"
        ).status_code
        == 404
    )
    assert commenter.delete(comments_url(doc, "/not-a-uuid")).status_code == 404


def test_an_unknown_field_is_refused_naming_it(team, doc):
    api = bearer(team.commenter)
    started = api.post(comments_url(doc), {"body": "x", "document": "d"}, "application/json")
    assert started.status_code == 422
    assert "document" in started.content.decode() and "Extra inputs" in started.content.decode()
    thread = say(team.commenter, doc)
    reply = api.post(
        comments_url(doc, f"/{thread.pk}/replies"), {"body": "x", "ref": 1}, "application/json"
    )
    edit = api.patch(
        comments_url(doc, f"/{thread.pk}"), {"body": "x", "title": "t"}, "application/json"
    )
    assert (reply.status_code, edit.status_code) == (422, 422)
    assert Comment.objects.get().body == "Paragraph 2 needs the agency figure."


def test_resolving_a_resolved_thread_or_reopening_an_open_one_is_a_conflict(team, doc):
    thread = say(team.commenter, doc)
    api = bearer(team.editor)
    reopened = api.post(comments_url(doc, f"/{thread.pk}/reopen"))
    assert (reopened.status_code, reopened.json()["code"]) == (409, "already_done")
    assert "already open" in reopened.json()["detail"]
    assert api.post(comments_url(doc, f"/{thread.pk}/resolve")).status_code == 200
    again = api.post(comments_url(doc, f"/{thread.pk}/resolve"))
    assert (again.status_code, again.json()["detail"]) == (409, "This thread is already resolved.")
    # Someone who may not resolve at all is still refused, not told of a conflict.
    viewer = bearer(team.viewer).post(comments_url(doc, f"/{thread.pk}/reopen"))
    assert viewer.status_code == 403


def test_a_passage_sent_through_the_api_is_stored_and_listed(team, doc):
    passage = {"block": "p-4", "start": 31, "end": 47}
    api = bearer(team.commenter)
    started = api.post(
        comments_url(doc),
        {"body": "Which figure?", "anchor_quote": "£2.4m", "anchor_position": passage},
        "application/json",
    )
    assert started.status_code == 201
    assert started.json()["anchor_position"] == passage
    # A position of the wrong shape is dropped, as on the page: the comment still posts.
    wrong = api.post(
        comments_url(doc),
        {"body": "And this?", "anchor_position": {"paragraph": "p-4", "start": 0, "end": 1}},
        "application/json",
    )
    assert (wrong.status_code, wrong.json()["anchor_position"]) == (201, None)
    listed = bearer(team.viewer, "read").get(comments_url(doc)).json()["items"]
    assert [(t["body"], t["anchor_position"]) for t in listed] == [
        ("Which figure?", passage),
        ("And this?", None),
    ]
