"""Home page, "what needs me": conversations with messages by others since I last read them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commonroom.conversations import services
from commonroom.conversations.selectors import conversations_with_new_messages
from commonroom.conversations.tests.helpers import access_for, post, start
from commonroom.workspaces.tests.factories import make_workspace

pytestmark = pytest.mark.django_db

HEADING = "Conversations with new messages"


def home(user) -> str:
    client = Client()
    client.force_login(user)
    return client.get(reverse("home")).content.decode()


def test_new_messages_by_others_show_until_read(team):
    topic = start(team.manager, team.workspace, title="Rota for Friday", body="Who covers?")
    post(team.editor, topic, "I can")
    page = home(team.viewer)
    assert HEADING in page and "Rota for Friday" in page
    assert reverse("conversation_detail", args=[team.workspace.pk, topic.pk]) in page
    assert "2 new messages" in page

    client = Client()
    client.force_login(team.viewer)
    client.get(reverse("conversation_detail", args=[team.workspace.pk, topic.pk]))
    assert HEADING not in home(team.viewer)

    # A later message by someone else brings it back, counting only what is new.
    post(team.commenter, topic, "Thanks both")
    page = home(team.viewer)
    assert "Rota for Friday" in page and "1 new message" in page


def test_own_and_deleted_messages_do_not_count(team):
    topic = start(team.manager, team.workspace, title="My own topic", body="Hello")
    assert HEADING not in home(team.manager)
    message = post(team.editor, topic, "Oops, wrong place")
    assert "My own topic" in home(team.manager)
    services.message_delete(
        actor=team.editor,
        access=access_for(team.editor, team.workspace),
        conversation_id=topic.pk,
        message_id=message.pk,
    )
    assert HEADING not in home(team.manager)


def test_other_workspaces_never_show(team):
    other = make_workspace(name="Private board")
    start(other.memberships.get().user, other, title="Secret plans", body="Confidential")
    page = home(team.outsider)
    assert HEADING not in page and "Secret plans" not in page


def test_bounded_to_ten_newest_first_in_a_fixed_number_of_queries(team):
    for i in range(12):
        start(team.manager, team.workspace, title=f"Topic number {i:02}", body="News")
    with CaptureQueriesContext(connection) as queries:
        found = conversations_with_new_messages(user=team.viewer)
    assert len(queries) == 1
    assert [c.title for c in found] == [f"Topic number {i:02}" for i in range(11, 1, -1)]
    assert all(c.unread == 1 for c in found)  # type: ignore[attr-defined]
    assert home(team.viewer).count("Topic number") == 10
