"""A notification quotes its comment or message as it is now: an edit updates the excerpt, a
deletion removes the text from every notification (list, home page, digest)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.comments import services as comments
from commonroom.conversations import services as conversations
from commonroom.conversations.tests.helpers import access_for, post, start
from commonroom.documents.selectors import document_access
from commonroom.notifications.models import Notification
from commonroom.notifications.services import COMMENT_DELETED, MESSAGE_DELETED
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db


def doc_access_for(user, doc):
    return document_access(user=user, workspace_id=doc.workspace_id, document_id=doc.pk)


def pages(user) -> str:
    client = Client()
    client.force_login(user)
    return (
        client.get(reverse("notification_list")).content.decode()
        + client.get(reverse("home")).content.decode()
    )


def test_a_comment_edit_and_deletion_reach_its_notifications(team):
    doc = upload_document(team.workspace, team.manager, name="minutes.docx")
    comment = comments.comment_create(
        actor=team.commenter,
        doc_access=doc_access_for(team.commenter, doc),
        body="@tom the **agency** figure is secret-ish",
    )
    notes = Notification.objects.filter(dedupe_key=f"comment:{comment.pk}")
    assert {n.recipient for n in notes} == {team.editor, team.manager}
    assert "secret-ish" in pages(team.editor)

    comments.comment_edit(
        actor=team.commenter,
        doc_access=doc_access_for(team.commenter, doc),
        comment_id=comment.pk,
        body="@tom the **agency** figure, corrected",
    )
    # The words, as shown (a mention by name, no Markdown).
    expected = f"@{team.editor.display_name} the agency figure, corrected"
    assert {n.excerpt for n in notes.all()} == {expected}
    assert "secret-ish" not in pages(team.editor)

    comments.comment_delete(
        actor=team.commenter, doc_access=doc_access_for(team.commenter, doc), comment_id=comment.pk
    )
    assert {n.excerpt for n in notes.all()} == {COMMENT_DELETED}
    for user in (team.editor, team.manager):
        page = pages(user)
        assert "corrected" not in page and "secret-ish" not in page
        assert COMMENT_DELETED in page


def test_a_message_edit_and_deletion_reach_its_notifications(team):
    topic = start(team.manager, team.workspace, title="Rota", body="Who covers Friday?")
    message = post(team.editor, topic, "@priya I can, private phone 07700 900123")
    notes = Notification.objects.filter(dedupe_key=f"message:{message.pk}")
    assert [n.recipient for n in notes] == [team.manager]
    assert "07700 900123" in pages(team.manager)

    access = access_for(team.editor, team.workspace)
    conversations.message_edit(
        actor=team.editor,
        access=access,
        conversation_id=topic.pk,
        message_id=message.pk,
        body="@priya I can",
    )
    assert "07700 900123" not in notes.get().excerpt and "I can" in notes.get().excerpt

    conversations.message_delete(
        actor=team.editor, access=access, conversation_id=topic.pk, message_id=message.pk
    )
    assert notes.get().excerpt == MESSAGE_DELETED
    page = pages(team.manager)
    assert "07700 900123" not in page and MESSAGE_DELETED in page


def test_other_items_notifications_are_untouched(team):
    topic = start(team.manager, team.workspace, title="Rota", body="Who covers Friday?")
    kept = post(team.editor, topic, "@priya keep this one")
    gone = post(team.editor, topic, "@priya delete this one")
    conversations.message_delete(
        actor=team.manager,
        access=access_for(team.manager, team.workspace),
        conversation_id=topic.pk,
        message_id=gone.pk,
    )
    assert Notification.objects.get(dedupe_key=f"message:{kept.pk}").excerpt.endswith(
        "keep this one"
    )
