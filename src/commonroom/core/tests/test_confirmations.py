"""Deleting a comment or a message and removing a member ask first: the form (or its button)
carries data-confirm with the question, which app.js asks with window.confirm before sending."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.comments import services as comments
from commonroom.conversations.tests.helpers import post, start
from commonroom.documents.tests.factories import doc_access_for, upload

pytestmark = pytest.mark.django_db


def page(user, url: str) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def opening_tag(html: str, action: str) -> str:
    """The <form> tag whose action is ``action``."""
    [tag] = re.findall(rf'<form [^>]*action="{re.escape(action)}"[^>]*>', html)
    return tag


def test_deleting_a_comment_asks_first_and_the_button_is_secondary(team):
    doc = upload(team.editor, team.workspace, "minutes.docx", b"v1").document
    mine = comments.comment_create(
        actor=team.commenter, doc_access=doc_access_for(team.commenter, doc), body="Mine"
    )
    url = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    delete = reverse("comment_delete", args=[team.workspace.pk, doc.pk, mine.pk])
    own = page(team.commenter, url)
    assert 'data-confirm="Delete your comment? Its words are removed for everyone; the thread' in (
        opening_tag(own, delete)
    )
    moderated = page(team.manager, url)
    assert f"Delete the comment by {team.commenter.display_name}?" in opening_tag(moderated, delete)
    after_form = moderated[moderated.index(opening_tag(moderated, delete)) :]
    button = after_form[: after_form.index("</button>")]
    assert "nhsuk-button--secondary nhsuk-button--small" in button
    assert "nhsuk-button--warning" not in button


def test_deleting_a_message_asks_first(team):
    conversation = start(team.manager, team.workspace, title="Rota", body="Who covers Friday?")
    message = post(team.editor, conversation, "I can")
    url = reverse("conversation_detail", args=[team.workspace.pk, conversation.pk])
    delete = reverse("message_delete", args=[team.workspace.pk, conversation.pk, message.pk])
    assert 'data-confirm="Delete this message?' in opening_tag(page(team.editor, url), delete)


def test_removing_a_member_asks_first_but_saving_a_role_does_not(team):
    html = page(team.manager, reverse("workspace_members", args=[team.workspace.pk]))
    [remove] = re.findall(
        rf'<button [^>]*value="remove"[^>]*>Remove<span class="nhsuk-u-visually-hidden"> '
        rf"{team.viewer.display_name}</span>",
        html,
    )
    assert (
        f'data-confirm="Remove {team.viewer.display_name} from {team.workspace.name}? They lose '
        'access at once."' in remove
    )
    assert not re.search(r'<button [^>]*value="role"[^>]*data-confirm', html)
