"""Conversation services: topics, messages, edits kept, tombstones, mentions, linked documents,
resends, unread counts per person, and live events that exist exactly when the change does."""

from __future__ import annotations

import pytest
from django.db import transaction

from commonroom.audit.models import Action, AuditEvent
from commonroom.conversations import services
from commonroom.conversations.models import Conversation, Message, MessageRevision
from commonroom.conversations.selectors import conversation_list, message_page, unread_total
from commonroom.conversations.tests.helpers import access_for, post, start
from commonroom.core.exceptions import ApplicationError, NotFound, PermissionDenied
from commonroom.documents.selectors import document_access
from commonroom.documents.services import document_delete
from commonroom.live.models import Event
from commonroom.workspaces.services import workspace_set_archived
from commonroom.workspaces.tests.factories import make_workspace, upload_document

pytestmark = pytest.mark.django_db


def edit(user, message, body):
    return services.message_edit(
        actor=user,
        access=access_for(user, message.conversation.workspace),
        conversation_id=message.conversation_id,
        message_id=message.pk,
        body=body,
    )


def delete(user, message):
    return services.message_delete(
        actor=user,
        access=access_for(user, message.conversation.workspace),
        conversation_id=message.conversation_id,
        message_id=message.pk,
    )


def unread(user, workspace):
    access = access_for(user, workspace)
    return {c.title: c.unread for c in conversation_list(access=access, user=user)}  # type: ignore[attr-defined]


@pytest.mark.parametrize("role", ["commenter", "editor", "manager"])
def test_those_who_may_comment_start_a_conversation_with_its_first_message(team, role):
    user = team.by_role[role]
    conversation = start(user, team.workspace, title="  Budget  for Q3 ", body="Figures **due**")
    assert (conversation.title, conversation.message_count, conversation.created_by) == (
        "Budget for Q3",
        1,
        user,
    )
    (message,) = conversation.messages.all()
    assert message.author == user and message.body == "Figures **due**"
    assert message.body_html == "<p>Figures <strong>due</strong></p>\n"
    assert conversation.last_message_at == message.created_at
    event = AuditEvent.objects.get(action=Action.CONVERSATION_STARTED)
    assert (event.workspace_id, event.actor_id, event.target_id) == (
        team.workspace.pk,
        user.pk,
        str(message.pk),
    )


def test_a_viewer_reads_but_cannot_start_or_post(team):
    conversation = start(team.manager, team.workspace)
    with pytest.raises(PermissionDenied):
        start(team.viewer, team.workspace)
    with pytest.raises(PermissionDenied):
        post(team.viewer, conversation)
    assert Message.objects.count() == 1
    page = message_page(conversation=conversation)
    assert [m.body for m in page.messages] == ["Hello all"]


def test_a_non_member_cannot_reach_the_workspace(team):
    with pytest.raises(NotFound):
        access_for(team.outsider, team.workspace)


def test_a_conversation_of_another_workspace_is_not_found(team):
    other_ws = make_workspace(manager=team.outsider, name="Elsewhere")
    elsewhere = start(team.outsider, other_ws)
    with pytest.raises(NotFound):
        post(team.manager, elsewhere.__class__(pk=elsewhere.pk, workspace=team.workspace))


def test_an_archived_workspace_is_read_only(team):
    conversation = start(team.editor, team.workspace)
    message = conversation.messages.get()
    workspace_set_archived(
        actor=team.manager, access=access_for(team.manager, team.workspace), archived=True
    )
    with pytest.raises(PermissionDenied, match="archived"):
        post(team.editor, conversation)
    with pytest.raises(PermissionDenied, match="archived"):
        edit(team.editor, message, "changed")
    with pytest.raises(PermissionDenied, match="archived"):
        delete(team.manager, message)


def test_posting_moves_the_topic_to_the_top_and_counts_messages(team):
    first = start(team.manager, team.workspace, title="First")
    second = start(team.manager, team.workspace, title="Second")
    post(team.editor, first, "Bumped")
    titles = [
        c.title
        for c in conversation_list(access=access_for(team.viewer, team.workspace), user=team.viewer)
    ]
    assert titles == ["First", "Second"]
    first.refresh_from_db()
    assert first.message_count == 2
    assert second.message_count == 1


def test_editing_keeps_the_earlier_text_and_marks_it_edited(team):
    message = start(team.commenter, team.workspace, body="Draft").messages.get()
    edited = edit(team.commenter, message, "Final *text*")
    assert (edited.body, edited.body_html) == ("Final *text*", "<p>Final <em>text</em></p>\n")
    assert edited.edited_at is not None
    assert list(MessageRevision.objects.values_list("body", flat=True)) == ["Draft"]
    assert AuditEvent.objects.filter(action=Action.MESSAGE_EDITED).count() == 1


def test_only_the_author_edits(team):
    message = start(team.commenter, team.workspace).messages.get()
    for user in (team.editor, team.manager):
        with pytest.raises(PermissionDenied):
            edit(user, message, "Not mine")


def test_deleting_leaves_a_tombstone_and_keeps_the_text(team):
    message = start(team.commenter, team.workspace, body="Oops @tom").messages.get()
    gone = delete(team.commenter, message)
    assert (gone.body, gone.body_html, gone.deleted_by) == ("", "", team.commenter)
    assert gone.deleted_at is not None and not gone.mentioned.exists()
    assert MessageRevision.objects.get(message=message).body == "Oops @tom"
    with pytest.raises(NotFound, match="deleted"):
        edit(team.commenter, message, "again")


def test_a_manager_moderates_but_others_cannot_delete(team):
    message = start(team.commenter, team.workspace).messages.get()
    with pytest.raises(PermissionDenied):
        delete(team.editor, message)
    assert delete(team.manager, message).deleted_by == team.manager


def test_mentions_of_members_are_kept_and_marked(team):
    message = post(
        team.editor, start(team.manager, team.workspace), "Can @sam and @viewer@example.org check?"
    )
    assert set(message.mentioned.all()) == {team.commenter, team.viewer}
    assert message.body_html.count('class="cr-mention"') == 2


def test_a_mention_of_a_non_member_is_refused_and_nothing_is_posted(team):
    conversation = start(team.manager, team.workspace)
    with pytest.raises(ApplicationError) as exc:
        post(team.editor, conversation, "Ask @outsider@example.org")
    assert exc.value.code == "unknown_mention"
    assert Message.objects.count() == 1
    with pytest.raises(ApplicationError):
        start(team.editor, team.workspace, body="@outsider please")
    assert Conversation.objects.count() == 1


def test_html_is_sanitised(team):
    message = start(
        team.editor, team.workspace, body="<script>alert(1)</script> [x](javascript:alert(1))"
    ).messages.get()
    assert "<script" not in message.body_html
    assert "<a" not in message.body_html  # the javascript: link stays text


@pytest.mark.parametrize(
    ("body", "code"), [("  \n ", "empty_message"), ("x" * 10_001, "message_too_long")]
)
def test_empty_or_overlong_messages_are_refused(team, body, code):
    with pytest.raises(ApplicationError) as exc:
        post(team.editor, start(team.manager, team.workspace), body)
    assert exc.value.code == code


def test_a_title_is_required_and_limited(team):
    with pytest.raises(ApplicationError, match="title"):
        start(team.editor, team.workspace, title="   ")
    with pytest.raises(ApplicationError, match="200"):
        start(team.editor, team.workspace, title="x" * 201)


def test_a_document_of_the_workspace_can_be_linked(team):
    doc = upload_document(team.workspace, team.editor, name="budget.xlsx")
    conversation = start(team.editor, team.workspace, document=doc.pk)
    assert conversation.messages.get().document == doc
    assert post(team.commenter, conversation, document_id=str(doc.pk)).document == doc
    assert AuditEvent.objects.get(action=Action.MESSAGE_POSTED).document_id == doc.pk


def test_a_document_of_another_workspace_or_in_the_trash_is_refused(team):
    conversation = start(team.manager, team.workspace)
    other_ws = make_workspace(manager=team.manager, name="Elsewhere")
    foreign = upload_document(other_ws, team.manager, name="secret.txt")
    trashed = upload_document(team.workspace, team.manager, name="old.txt")
    document_delete(
        actor=team.manager,
        doc_access=document_access(
            user=team.manager, workspace_id=team.workspace.pk, document_id=trashed.pk
        ),
    )
    for doc_id in (foreign.pk, trashed.pk, "not-an-id"):
        with pytest.raises(NotFound):
            post(team.manager, conversation, document_id=doc_id)
    assert Message.objects.count() == 1


def test_a_resent_client_key_returns_the_same_message_and_creates_nothing(team):
    conversation = start(team.manager, team.workspace)
    first = post(team.editor, conversation, "Once", client_key="k-1")
    events = Event.objects.count()
    again = post(team.editor, conversation, "Once", client_key="k-1")
    assert first.is_new and not again.is_new
    assert again.pk == first.pk and again.client_key == "k-1"
    assert Message.objects.filter(client_key="k-1").count() == 1
    assert Event.objects.count() == events
    assert AuditEvent.objects.filter(action=Action.MESSAGE_POSTED).count() == 1
    # Another person may use the same key: keys are per author.
    assert post(team.commenter, conversation, "Mine", client_key="k-1").is_new


def test_a_resent_start_returns_the_same_conversation(team):
    one = start(team.editor, team.workspace, client_key="s-1")
    two = start(team.editor, team.workspace, client_key="s-1")
    assert one.pk == two.pk and two.first_message is not None and not two.first_message.is_new
    assert Conversation.objects.count() == 1


def test_unread_counts_are_per_person(team):
    ws = team.workspace
    budget = start(team.manager, ws, title="Budget")
    post(team.editor, budget, "One")
    post(team.editor, budget, "Two")
    assert unread(team.manager, ws) == {"Budget": 2}
    assert unread(team.editor, ws) == {"Budget": 1}  # the manager's opening message
    assert unread(team.viewer, ws) == {"Budget": 3}
    services.conversation_mark_read(user=team.viewer, conversation=budget)
    assert unread(team.viewer, ws) == {"Budget": 0}
    assert unread(team.manager, ws) == {"Budget": 2}
    gone = post(team.commenter, budget, "Three")
    assert unread(team.viewer, ws) == {"Budget": 1}
    delete(team.commenter, gone)
    assert unread(team.viewer, ws) == {"Budget": 0}
    assert unread_total(access=access_for(team.manager, ws), user=team.manager) == 2
    services.conversation_mark_read(user=team.manager, conversation=budget)
    services.conversation_mark_read(user=team.manager, conversation=budget)
    assert unread_total(access=access_for(team.manager, ws), user=team.manager) == 0


def test_the_tabs_unread_total_counts_each_write_made_straight_in_the_database(team):
    """``unread_total`` (the workspace tabs' count, its SQL built once per process) says what
    the lists' ``unread`` add up to after writes made through the ORM alone, as another process
    makes them: a message, a deletion, a reading, in this workspace and in another."""
    from datetime import timedelta

    from django.utils import timezone

    from commonroom.conversations.models import ConversationRead

    ws = team.workspace
    from commonroom.workspaces.tests.factories import add_member

    other = make_workspace(manager=team.manager, name="Elsewhere")
    add_member(other, team.editor, "editor")
    budget = start(team.editor, ws, title="Budget")
    elsewhere = start(team.editor, other, title="Elsewhere")

    def total() -> tuple[int, int]:
        summed = sum(unread(team.manager, ws).values())
        return unread_total(access=access_for(team.manager, ws), user=team.manager), summed

    assert total() == (1, 1)
    later = timezone.now() + timedelta(minutes=1)
    made = Message.objects.create(
        conversation=budget, author=team.commenter, body="x", body_html="x", created_at=later
    )
    Message.objects.create(
        conversation=elsewhere, author=team.editor, body="y", body_html="y", created_at=later
    )
    Message.objects.create(
        conversation=budget, author=team.manager, body="mine", body_html="m", created_at=later
    )
    assert total() == (2, 2)
    Message.objects.filter(pk=made.pk).update(deleted_at=later)
    assert total() == (1, 1)
    ConversationRead.objects.create(user=team.manager, conversation=budget, last_read_at=later)
    assert total() == (0, 0)
    ConversationRead.objects.filter(user=team.manager).update(
        last_read_at=later - timedelta(minutes=5)
    )
    assert total() == (1, 1)


def test_each_write_publishes_its_events_following_the_contract(team):
    conversation = start(team.manager, team.workspace, client_key="c-1")
    message = post(team.editor, conversation, client_key="c-2")
    kinds = list(Event.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == [
        "conversation.created",
        "message.created",
        "message.created",
        "conversation.updated",
    ]
    created = Event.objects.filter(kind="message.created").order_by("id").last()
    assert created is not None
    ws, c, m = team.workspace.pk, conversation.pk, message.pk
    assert created.data == {
        "conversation": str(c),
        "message": str(m),
        "author_id": team.editor.pk,
        "client_key": "c-2",
    }
    row = Event.objects.get(kind="conversation.updated")
    assert row.workspace_id == ws
    assert row.data == {
        "conversation": str(c),
        "message": str(m),
        "author_id": team.editor.pk,
        "client_key": "c-2",
    }
    edit(team.editor, message, "Changed")
    delete(team.manager, message)
    updates = Event.objects.filter(kind="message.updated").order_by("id")
    assert [e.data["author_id"] for e in updates] == [team.editor.pk, team.manager.pk]


def test_no_event_or_message_survives_a_rollback(team):
    conversation = start(team.manager, team.workspace)
    before = Event.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        post(team.editor, conversation, "Lost")
        raise RuntimeError
    assert Event.objects.count() == before
    assert Message.objects.count() == 1


def test_events_are_announced_only_after_commit(team, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        start(team.manager, team.workspace)
    assert len(callbacks) == 2


def test_the_latest_page_and_earlier_and_later_pages(team):
    conversation = start(team.manager, team.workspace, body="m0")
    for i in range(1, 6):
        post(team.editor, conversation, f"m{i}")
    latest = message_page(conversation=conversation, limit=2)
    assert [m.body for m in latest.messages] == ["m4", "m5"] and latest.has_earlier
    earlier = message_page(conversation=conversation, before=str(latest.messages[0].pk), limit=2)
    assert [m.body for m in earlier.messages] == ["m2", "m3"] and earlier.has_later
    after = message_page(conversation=conversation, after=str(earlier.messages[1].pk), limit=10)
    assert [m.body for m in after.messages] == ["m4", "m5"] and not after.has_later
    since = message_page(conversation=conversation, after=latest.messages[0].created_at.isoformat())
    assert [m.body for m in since.messages] == ["m5"]
