"""The hook other apps follow comments by (comments/hooks.py): every change is told, typed,
inside its transaction, once written and before its audit row; a follower's failure undoes the
change. (That comments imports neither search nor notifications is an import-linter contract
in pyproject.toml: followed-apps-no-followers.)"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection

from commonroom.audit.models import AuditEvent
from commonroom.comments import hooks, services
from commonroom.comments.models import Comment
from commonroom.documents.tests.factories import doc_access_for, upload
from commonroom.live.models import Event

pytestmark = pytest.mark.django_db

CHANGE_TYPES: tuple[type[Any], ...] = (
    hooks.CommentAdded,
    hooks.CommentEdited,
    hooks.CommentDeleted,
    hooks.CommentResolved,
)


@dataclass
class Told:
    change: Any
    in_transaction: bool
    stored: Comment  # the comment as the follower can read it
    audited: int  # audit rows about it when the follower ran


@pytest.fixture
def told() -> Iterator[list[Told]]:
    seen: list[Told] = []

    def note(change: Any) -> None:
        pk = change.comment.pk
        audited = AuditEvent.objects.filter(target_type="comment", target_id=str(pk)).count()
        seen.append(Told(change, connection.in_atomic_block, Comment.objects.get(pk=pk), audited))

    for change_type in CHANGE_TYPES:
        hooks.subscribe(change_type, note)
    yield seen
    for change_type in CHANGE_TYPES:
        hooks.unsubscribe(change_type, note)


def test_every_change_is_told_typed_inside_its_transaction_before_its_audit_row(
    team: Any, told: list[Told]
) -> None:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"one").document

    def access(user: Any) -> Any:
        return doc_access_for(user, doc)

    first = services.comment_create(
        actor=team.commenter, doc_access=access(team.commenter), body="Ask @tom please"
    )
    reply = services.comment_reply(
        actor=team.editor, doc_access=access(team.editor), comment_id=first.pk, body="Done"
    )
    services.comment_edit(
        actor=team.editor, doc_access=access(team.editor), comment_id=reply.pk, body="Done now"
    )
    services.comment_set_resolved(
        actor=team.commenter, doc_access=access(team.commenter), comment_id=first.pk, resolved=True
    )
    services.comment_set_resolved(
        actor=team.commenter, doc_access=access(team.commenter), comment_id=first.pk, resolved=False
    )
    services.comment_delete(actor=team.editor, doc_access=access(team.editor), comment_id=reply.pk)
    # A resend (same client key) and an edit that changes nothing are no changes: not told.
    services.comment_edit(
        actor=team.commenter,
        doc_access=access(team.commenter),
        comment_id=first.pk,
        body="Ask @tom please",
    )

    assert [(type(t.change).__name__, t.change.comment.pk, t.change.actor) for t in told] == [
        ("CommentAdded", first.pk, team.commenter),
        ("CommentAdded", reply.pk, team.editor),
        ("CommentEdited", reply.pk, team.editor),
        ("CommentResolved", first.pk, team.commenter),
        ("CommentResolved", first.pk, team.commenter),
        ("CommentDeleted", reply.pk, team.editor),
    ]
    assert all(t.in_transaction for t in told)
    # Each change was already written when told, and its own audit row was not yet.
    assert [t.audited for t in told] == [0, 0, 1, 1, 2, 2]
    added, replied, edited, resolved, reopened, deleted = told
    assert added.change.mentioned == (team.editor,) and replied.change.mentioned == ()
    assert replied.stored.thread_id == first.pk
    assert edited.stored.body == "Done now"
    assert (resolved.change.resolved, resolved.stored.resolved_at is not None) == (True, True)
    assert (reopened.change.resolved, reopened.stored.resolved_at) == (False, None)
    assert deleted.stored.is_deleted and deleted.stored.body == ""


def test_a_follower_that_fails_undoes_the_comment_and_everything_written_with_it(
    team: Any,
) -> None:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"one").document
    events, audited = Event.objects.count(), AuditEvent.objects.count()

    def refuse(change: hooks.CommentAdded) -> None:
        raise RuntimeError("the index is broken")

    with hooks.subscribed(hooks.CommentAdded, refuse), pytest.raises(RuntimeError):
        services.comment_create(
            actor=team.commenter, doc_access=doc_access_for(team.commenter, doc), body="Hello"
        )
    assert not Comment.objects.exists()
    assert (Event.objects.count(), AuditEvent.objects.count()) == (events, audited)


def test_search_and_notifications_follow_comments_from_their_apps() -> None:
    """Wired by each app's ready(), each once."""

    def modules(change_type: type[Any]) -> list[str]:
        return sorted(s.__module__ for s in hooks.hook._subscribers.get(change_type, []))

    assert modules(hooks.CommentAdded) == [
        "commonroom.notifications.receivers",
        "commonroom.search.receivers",
        "commonroom.suggestions.receivers",
    ]
    for change_type in (hooks.CommentEdited, hooks.CommentDeleted):
        assert modules(change_type) == [
            "commonroom.notifications.receivers",
            "commonroom.search.receivers",
        ]
    assert modules(hooks.CommentResolved) == []
