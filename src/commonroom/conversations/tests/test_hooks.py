"""The hook other apps follow conversations by (conversations/hooks.py): every change is told,
typed, inside its transaction, once written and before its audit row; a follower's failure
undoes the change. (That conversations imports neither search nor notifications is an
import-linter contract in pyproject.toml: followed-apps-no-followers.)"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection

from commonroom.audit.models import AuditEvent
from commonroom.conversations import hooks, services
from commonroom.conversations.models import Conversation, Message
from commonroom.conversations.tests.helpers import access_for, post, start
from commonroom.live.models import Event

pytestmark = pytest.mark.django_db

CHANGE_TYPES: tuple[type[Any], ...] = (
    hooks.ConversationStarted,
    hooks.MessagePosted,
    hooks.MessageEdited,
    hooks.MessageDeleted,
)


@dataclass
class Told:
    change: Any
    in_transaction: bool
    stored: Message  # the message as the follower can read it (the first, for a new topic)
    audited: int  # audit rows about that message when the follower ran


@pytest.fixture
def told() -> Iterator[list[Told]]:
    seen: list[Told] = []

    def note(change: Any) -> None:
        message = getattr(change, "message", None) or change.first_message
        audited = AuditEvent.objects.filter(target_type="message", target_id=str(message.pk))
        seen.append(
            Told(
                change,
                connection.in_atomic_block,
                Message.objects.select_related("conversation").get(pk=message.pk),
                audited.count(),
            )
        )

    for change_type in CHANGE_TYPES:
        hooks.subscribe(change_type, note)
    yield seen
    for change_type in CHANGE_TYPES:
        hooks.unsubscribe(change_type, note)


def _change(user: Any, message: Message, action: str, **kw: Any) -> Message:
    do = services.message_edit if action == "edit" else services.message_delete
    return do(
        actor=user,
        access=access_for(user, message.conversation.workspace),
        conversation_id=message.conversation_id,
        message_id=message.pk,
        **kw,
    )


def test_every_change_is_told_typed_inside_its_transaction_before_its_audit_row(
    team: Any, told: list[Told]
) -> None:
    topic = start(team.manager, team.workspace, body="Ask @tom please", client_key="k1")
    first = topic.first_message
    assert first is not None
    reply = post(team.editor, topic, "Done")
    _change(team.editor, reply, "edit", body="Done now")
    _change(team.editor, reply, "delete")
    # A resend (same client key) and an edit that changes nothing are no changes: not told.
    start(team.manager, team.workspace, body="Ask @tom please", client_key="k1")
    _change(team.manager, first, "edit", body="Ask @tom please")

    assert [(type(t.change).__name__, t.stored.pk, t.change.actor) for t in told] == [
        ("MessagePosted", first.pk, team.manager),
        ("ConversationStarted", first.pk, team.manager),
        ("MessagePosted", reply.pk, team.editor),
        ("MessageEdited", reply.pk, team.editor),
        ("MessageDeleted", reply.pk, team.editor),
    ]
    assert all(t.in_transaction for t in told)
    # Each change was already written when told, and its own audit row was not yet.
    assert [t.audited for t in told] == [0, 0, 0, 1, 2]
    posted, started, replied, edited, deleted = told
    assert posted.change.mentioned == (team.editor,) and replied.change.mentioned == ()
    assert started.change.conversation.pk == topic.pk
    assert Conversation.objects.filter(pk=topic.pk, title="Budget for Q3").exists()
    assert posted.stored.conversation_id == topic.pk
    assert edited.stored.body == "Done now"
    assert deleted.stored.is_deleted and deleted.stored.body == ""


def test_a_follower_that_fails_undoes_the_message_and_everything_written_with_it(
    team: Any,
) -> None:
    topic = start(team.manager, team.workspace)
    events, audited = Event.objects.count(), AuditEvent.objects.count()

    def refuse(change: hooks.MessagePosted) -> None:
        raise RuntimeError("the index is broken")

    with hooks.subscribed(hooks.MessagePosted, refuse), pytest.raises(RuntimeError):
        post(team.editor, topic, "Lost")
    assert list(Message.objects.values_list("body", flat=True)) == ["Hello all"]
    assert (Event.objects.count(), AuditEvent.objects.count()) == (events, audited)
    topic.refresh_from_db()
    assert topic.message_count == 1


def test_search_and_notifications_follow_conversations_from_their_apps() -> None:
    """Wired by each app's ready(), each once."""

    def modules(change_type: type[Any]) -> list[str]:
        return sorted(s.__module__ for s in hooks.hook._subscribers.get(change_type, []))

    for change_type in (hooks.MessagePosted, hooks.MessageEdited, hooks.MessageDeleted):
        assert modules(change_type) == [
            "commonroom.notifications.receivers",
            "commonroom.search.receivers",
        ]
    assert modules(hooks.ConversationStarted) == ["commonroom.search.receivers"]
