"""Comments on the document page, as each kind of person sees and uses them, with and without
the composer script (``HX-Request: true``)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from commonroom.comments import services
from commonroom.comments.models import Comment
from commonroom.documents.tests.factories import doc_access_for, new_version, upload

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.fixture
def doc(team):
    return upload(team.editor, team.workspace, "minutes.docx", b"v1").document


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def page(doc) -> str:
    return reverse("document_detail", args=[doc.workspace_id, doc.pk])


def url(name, doc, comment=None) -> str:
    args = [doc.workspace_id, doc.pk] + ([comment.pk] if comment is not None else [])
    return reverse(name, args=args)


def say(user, doc, body="Paragraph 2 needs the agency figure.", **kwargs):
    return services.comment_create(
        actor=user, doc_access=doc_access_for(user, doc), body=body, **kwargs
    )


def html(response) -> str:
    return response.content.decode()


# --- Reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor", "manager"])
def test_members_read_the_threads_composer_only_for_those_who_may_comment(team, doc, role):
    say(team.commenter, doc, "**Check** the figure")
    text = html(client_for(team.by_role[role]).get(page(doc)))
    assert f'data-live-list="document:{doc.pk}"' in text
    assert "<strong>Check</strong> the figure" in text
    if role == "viewer":
        assert "data-composer" not in text
        assert "You can read the comments" in text
    else:
        assert 'class="cr-composer" data-composer' in text
        assert f'action="{url("comment_create", doc)}"' in text
        assert 'name="client_key"' in text
        assert reverse("workspace_mention_candidates", args=[doc.workspace_id]) in text


@pytest.mark.parametrize("role", ["non-member", "anonymous"])
def test_outsiders_get_nothing(team, doc, role):
    comment = say(team.commenter, doc)
    client = client_for(team.by_role[role])
    expected = 404 if role == "non-member" else 302
    assert client.get(page(doc)).status_code == expected
    assert client.get(url("comment_thread", doc, comment), headers=HX).status_code == expected
    posted = client.post(url("comment_create", doc), {"body": "Hello"}, headers=HX)
    assert posted.status_code == expected
    assert Comment.objects.count() == 1


def test_the_comments_come_before_the_versions(team, doc):
    text = html(client_for(team.viewer).get(page(doc)))
    assert text.index('id="comments"') < text.index("<h2>Versions</h2>")


def test_a_thread_shows_its_version_edits_tombstones_and_quote(team, doc):
    old = say(team.commenter, doc, "On the draft", anchor_quote="deficit of £2.4m")
    new_version(team.editor, doc, b"v2")
    access = doc_access_for(team.manager, doc)
    answer = services.comment_reply(
        actor=team.editor, doc_access=access, comment_id=old.pk, body="Fixed in v2"
    )
    gone = services.comment_reply(
        actor=team.manager, doc_access=access, comment_id=old.pk, body="Secret"
    )
    services.comment_edit(actor=team.editor, doc_access=access, comment_id=answer.pk, body="Fixed")
    services.comment_delete(actor=team.manager, doc_access=access, comment_id=gone.pk)
    text = html(client_for(team.viewer).get(page(doc)))
    assert f'<article class="cr-thread" id="thread-{old.pk}"' in text
    assert "on version 1" in text and "on version 2" not in text
    assert '<blockquote class="cr-comment__quote">deficit of £2.4m</blockquote>' in text
    assert "(edited)" in text
    assert "This comment was deleted" in text and "Secret" not in text


def test_a_resolved_thread_is_folded_with_who_resolved_it(team, doc):
    comment = say(team.commenter, doc)
    services.comment_set_resolved(
        actor=team.manager,
        doc_access=doc_access_for(team.manager, doc),
        comment_id=comment.pk,
        resolved=True,
    )
    text = html(client_for(team.commenter).get(page(doc)))
    assert "Resolved by Priya Shah" in text
    assert "Show the resolved thread (1 comment)" in text
    assert url("comment_reopen", doc, comment) in text
    assert url("comment_reply", doc, comment) not in text
    assert url("comment_reopen", doc, comment) not in html(client_for(team.viewer).get(page(doc)))


def test_actions_follow_the_comment_abilities(team, doc):
    comment = say(team.commenter, doc)
    own = html(client_for(team.commenter).get(page(doc)))
    other = html(client_for(team.editor).get(page(doc)))
    moderator = html(client_for(team.manager).get(page(doc)))
    viewer = html(client_for(team.viewer).get(page(doc)))
    edit, delete = url("comment_edit", doc, comment), url("comment_delete", doc, comment)
    reply, resolve = url("comment_reply", doc, comment), url("comment_resolve", doc, comment)
    assert edit in own and delete in own and reply in own and resolve in own
    assert edit not in other and delete not in other and reply in other
    assert edit not in moderator and delete in moderator
    assert not [u for u in (edit, delete, reply, resolve) if u in viewer]


def test_a_thread_whose_first_comment_was_deleted_still_offers_reply_and_resolve(team, doc):
    comment = say(team.commenter, doc)
    services.comment_delete(
        actor=team.manager, doc_access=doc_access_for(team.manager, doc), comment_id=comment.pk
    )
    text = html(client_for(team.editor).get(page(doc)))
    assert "This comment was deleted" in text
    assert url("comment_reply", doc, comment) in text
    assert url("comment_resolve", doc, comment) in text
    assert url("comment_edit", doc, comment) not in text
    assert url("comment_delete", doc, comment) not in html(client_for(team.manager).get(page(doc)))
    client = client_for(team.editor)
    replied = client.post(url("comment_reply", doc, comment), {"body": "Carry on"}, headers=HX)
    assert replied.status_code == 201 and "Carry on" in html(replied)
    resolved = client.post(url("comment_resolve", doc, comment), headers=HX)
    assert resolved.status_code == 200 and "Resolved by" in html(resolved)
    assert url("comment_reopen", doc, comment) in html(resolved)


def test_the_thread_fragment_is_the_thread_as_the_viewer_sees_it(team, doc):
    comment = say(team.commenter, doc)
    reply = services.comment_reply(
        actor=team.editor,
        doc_access=doc_access_for(team.editor, doc),
        comment_id=comment.pk,
        body="Agreed",
    )
    response = client_for(team.viewer).get(url("comment_thread", doc, reply), headers=HX)
    assert response.status_code == 200
    text = html(response)
    assert f'id="thread-{comment.pk}"' in text and "Agreed" in text
    assert "<html" not in text and "data-composer" not in text


# --- Writing ---------------------------------------------------------------------------------


def test_posting_without_the_script_redirects_to_the_thread(team, doc):
    response = client_for(team.commenter).post(
        url("comment_create", doc), {"body": "New point", "client_key": "k1"}
    )
    comment = Comment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == page(doc) + f"#thread-{comment.pk}"
    assert comment.client_key == "k1"


def test_the_composer_script_gets_the_new_thread_then_the_same_one_on_a_resend(team, doc):
    client = client_for(team.commenter)
    first = client.post(
        url("comment_create", doc), {"body": "From a phone", "client_key": "k-7"}, headers=HX
    )
    assert first.status_code == 201
    comment = Comment.objects.get()
    assert f'id="thread-{comment.pk}"' in html(first) and "From a phone" in html(first)
    again = client.post(
        url("comment_create", doc), {"body": "From a phone", "client_key": "k-7"}, headers=HX
    )
    assert again.status_code == 200
    assert Comment.objects.count() == 1
    assert f'id="thread-{comment.pk}"' in html(again)


def test_reply_edit_resolve_reopen_delete_answer_the_thread(team, doc):
    comment = say(team.commenter, doc)
    client = client_for(team.commenter)
    replied = client.post(
        url("comment_reply", doc, comment), {"body": "More", "client_key": "r1"}, headers=HX
    )
    assert replied.status_code == 201 and "More" in html(replied)
    edited = client.post(url("comment_edit", doc, comment), {"body": "Changed"}, headers=HX)
    assert edited.status_code == 200 and "Changed" in html(edited)
    resolved = client.post(url("comment_resolve", doc, comment), headers=HX)
    assert resolved.status_code == 200 and "Resolved by" in html(resolved)
    reopened = client.post(url("comment_reopen", doc, comment), headers=HX)
    assert reopened.status_code == 200 and "Resolved by" not in html(reopened)
    deleted = client.post(url("comment_delete", doc, comment), headers=HX)
    assert deleted.status_code == 200 and "This comment was deleted" in html(deleted)


def test_refusals_answer_a_status_and_a_message_to_the_script(team, doc):
    comment = say(team.commenter, doc)
    viewer = client_for(team.viewer).post(url("comment_create", doc), {"body": "x"}, headers=HX)
    assert viewer.status_code == 403
    assert viewer["Content-Type"].startswith("text/plain")
    assert "not comment" in html(viewer)
    empty = client_for(team.commenter).post(url("comment_create", doc), {"body": " "}, headers=HX)
    assert (empty.status_code, html(empty)) == (400, "Write something before sending.")
    stranger = client_for(team.commenter).post(
        url("comment_create", doc), {"body": "@outsider@example.org"}, headers=HX
    )
    assert stranger.status_code == 400 and "not a member" in html(stranger)
    not_theirs = client_for(team.editor).post(
        url("comment_edit", doc, comment), {"body": "x"}, headers=HX
    )
    assert not_theirs.status_code == 403
    other_key = upload(team.editor, team.workspace, "agenda.docx", b"a").document
    say(team.commenter, other_key, client_key="used")
    clash = client_for(team.commenter).post(
        url("comment_create", doc), {"body": "x", "client_key": "used"}, headers=HX
    )
    assert clash.status_code == 409
    assert Comment.objects.count() == 2


def test_a_refusal_without_the_script_comes_back_as_a_message(team, doc):
    response = client_for(team.viewer).post(url("comment_create", doc), {"body": "x"})
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "You can read this document but not comment on it."
    ]


def test_a_forged_comment_id_is_not_found(team, doc):
    other = upload(team.editor, team.workspace, "agenda.docx", b"a").document
    elsewhere = say(team.commenter, other)
    client = client_for(team.commenter)
    forged = reverse("comment_reply", args=[doc.workspace_id, doc.pk, elsewhere.pk])
    assert client.post(forged, {"body": "x"}).status_code == 404
    assert client.post(forged, {"body": "x"}, headers=HX).status_code == 404
    thread = reverse("comment_thread", args=[doc.workspace_id, doc.pk, elsewhere.pk])
    assert client.get(thread).status_code == 404


# --- Mention candidates ----------------------------------------------------------------------


def test_mention_candidates_are_members_matching_name_or_email(team):
    candidates = reverse("workspace_mention_candidates", args=[team.workspace.pk])
    client = client_for(team.viewer)
    assert client.get(candidates, {"q": "PRI"}).json() == [
        {"handle": "priya", "name": "Priya Shah", "guest": None}
    ]
    assert client.get(candidates, {"q": "shah"}).json()[0]["handle"] == "priya"
    assert client.get(candidates, {"q": "outsider"}).json() == []
    assert len(client.get(candidates).json()) == 4  # the team's members, not the outsider


def test_a_mention_is_typed_as_a_name_and_by_address_only_when_the_name_is_shared(team):
    """The composer types "@priya", never an address, and it shows as "@Priya Shah"; only two
    members whose addresses begin alike are told apart by their whole addresses."""
    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.core.markup import render, resolver_for
    from commonroom.workspaces.selectors import member_users
    from commonroom.workspaces.tests.factories import add_member

    candidates = reverse("workspace_mention_candidates", args=[team.workspace.pk])
    client = client_for(team.viewer)
    (priya,) = client.get(candidates, {"q": "priya"}).json()
    shown = render(
        f"@{priya['handle']} can you check?", resolve=resolver_for(member_users(team.workspace))
    )
    assert shown.html == '<p><span class="cr-mention">@Priya Shah</span> can you check?</p>\n'
    assert "example.org" not in shown.html
    add_member(team.workspace, UserFactory(email="tom@partner.example", full_name="Tom Bell"))
    toms = {p["name"]: p["handle"] for p in client.get(candidates, {"q": "tom"}).json()}
    assert toms == {"Tom Bell": "tom@partner.example", team.editor.display_name: "tom@example.org"}


def test_mention_candidates_stop_at_eight(team):
    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.workspaces.tests.factories import add_member

    for i in range(10):
        add_member(team.workspace, UserFactory(email=f"nurse{i}@example.org"), "viewer")
    candidates = reverse("workspace_mention_candidates", args=[team.workspace.pk])
    assert len(client_for(team.viewer).get(candidates, {"q": "nurse"}).json()) == 8


def test_mention_candidates_are_for_members_only(team):
    candidates = reverse("workspace_mention_candidates", args=[team.workspace.pk])
    assert client_for(team.outsider).get(candidates, {"q": "p"}).status_code == 404
    assert client_for(None).get(candidates, {"q": "p"}).status_code == 302


def test_resolving_twice_is_a_conflict_told_to_the_script_and_the_page(team, doc):
    comment = say(team.commenter, doc)
    client = client_for(team.editor)
    assert client.post(url("comment_resolve", doc, comment), headers=HX).status_code == 200
    again = client.post(url("comment_resolve", doc, comment), headers=HX)
    assert (again.status_code, html(again)) == (409, "This thread is already resolved.")
    plain = client.post(url("comment_resolve", doc, comment))
    assert plain.status_code == 302
    assert [str(m) for m in get_messages(plain.wsgi_request)] == [
        "This thread is already resolved."
    ]
    client.post(url("comment_reopen", doc, comment))
    reopened = client.post(url("comment_reopen", doc, comment), headers=HX)
    assert reopened.status_code == 409 and "already open" in html(reopened)


def test_the_composer_offers_the_versions_latest_first_once_there_are_several(team, doc):
    client = client_for(team.commenter)
    assert 'name="version"' not in html(client.get(page(doc)))
    new_version(team.editor, doc, b"v2")
    text = html(client.get(page(doc)))
    assert '<label class="nhsuk-label" for="comment-version">On version</label>' in text
    assert '<option value="2" selected>2 (latest)</option><option value="1">1</option>' in text
    response = client.post(url("comment_create", doc), {"body": "On the draft", "version": "1"})
    assert response.status_code == 302
    assert client.post(url("comment_create", doc), {"body": "On the amendment"}).status_code == 302
    assert [(c.body, c.version.number) for c in Comment.objects.order_by("created_at")] == [
        ("On the draft", 1),
        ("On the amendment", 2),
    ]
    assert "on version 1" in html(client.get(page(doc)))
