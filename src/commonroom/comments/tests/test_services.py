"""Comment services: threads on versions, replies, edits kept, tombstones, resolution, and the
same abilities as everywhere else."""

from __future__ import annotations

import pytest

from commonroom.audit.models import Action, AuditEvent
from commonroom.comments import services
from commonroom.comments.models import Comment, CommentRevision
from commonroom.comments.selectors import document_threads
from commonroom.core.exceptions import ApplicationError, NotFound, PermissionDenied
from commonroom.documents.tests.factories import doc_access_for, new_version, upload
from commonroom.workspaces.models import Membership
from commonroom.workspaces.services import workspace_set_archived

pytestmark = pytest.mark.django_db


@pytest.fixture
def doc(team):
    return upload(team.editor, team.workspace, "minutes.docx", b"v1").document


def say(user, doc, body="Paragraph 2 needs the agency figure.", **kwargs):
    return services.comment_create(
        actor=user, doc_access=doc_access_for(user, doc), body=body, **kwargs
    )


@pytest.mark.parametrize("role", ["commenter", "editor", "manager"])
def test_those_who_may_comment_start_a_thread_on_the_latest_version(team, doc, role):
    comment = say(team.by_role[role], doc)
    assert (comment.version.number, comment.thread_id, comment.author) == (
        1,
        None,
        team.by_role[role],
    )
    event = AuditEvent.objects.get(action=Action.COMMENT_CREATED)
    assert (event.document_id, event.actor_id, event.data["version"]) == (
        doc.pk,
        team.by_role[role].pk,
        1,
    )


def test_a_viewer_reads_but_cannot_comment(team, doc):
    with pytest.raises(PermissionDenied):
        say(team.viewer, doc)
    assert not Comment.objects.exists()


def test_a_non_member_cannot_even_reach_the_document(team, doc):
    with pytest.raises(NotFound):
        doc_access_for(team.outsider, doc)


def test_comments_on_version_one_stay_visible_on_later_versions(team, doc):
    say(team.commenter, doc, "On the draft")
    new_version(team.editor, doc, b"v2")
    say(team.commenter, doc, "On the amendment")
    threads = document_threads(doc_access=doc_access_for(team.viewer, doc))
    assert [(t.body, t.version.number) for t in threads] == [
        ("On the draft", 1),
        ("On the amendment", 2),
    ]


def test_a_comment_can_name_its_version_and_passage(team, doc):
    new_version(team.editor, doc, b"v2")
    comment = say(
        team.commenter,
        doc,
        version_number=1,
        anchor_quote="deficit of £2.4m",
        anchor_position={"block": "p-4", "start": 31, "end": 47},
    )
    comment.refresh_from_db()
    assert comment.version.number == 1
    assert comment.anchor_quote == "deficit of £2.4m"
    assert comment.anchor_position == {"block": "p-4", "start": 31, "end": 47}
    with pytest.raises(NotFound):
        say(team.commenter, doc, version_number=9)


def test_replies_join_the_thread_even_when_replying_to_a_reply(team, doc):
    root = say(team.commenter, doc, "Question")
    first = services.comment_reply(
        actor=team.editor, doc_access=doc_access_for(team.editor, doc), comment_id=root.pk, body="A"
    )
    second = services.comment_reply(
        actor=team.manager,
        doc_access=doc_access_for(team.manager, doc),
        comment_id=first.pk,
        body="B",
    )
    assert first.thread_id == second.thread_id == root.pk
    [thread] = document_threads(doc_access=doc_access_for(team.viewer, doc))
    assert [r.body for r in thread.thread_replies] == ["A", "B"]  # type: ignore[attr-defined]


def test_editing_keeps_the_earlier_text_and_marks_the_comment(team, doc):
    comment = say(team.commenter, doc, "Teh figure is wrong")
    edited = services.comment_edit(
        actor=team.commenter,
        doc_access=doc_access_for(team.commenter, doc),
        comment_id=comment.pk,
        body="The figure is wrong",
    )
    assert edited.body == "The figure is wrong"
    assert edited.edited_at is not None
    assert list(CommentRevision.objects.values_list("body", flat=True)) == ["Teh figure is wrong"]
    assert AuditEvent.objects.filter(action=Action.COMMENT_EDITED).count() == 1


def test_only_the_author_edits(team, doc):
    comment = say(team.commenter, doc, "Mine")
    with pytest.raises(PermissionDenied):
        services.comment_edit(
            actor=team.manager,
            doc_access=doc_access_for(team.manager, doc),
            comment_id=comment.pk,
            body="Not mine",
        )
    comment.refresh_from_db()
    assert comment.body == "Mine"


def test_deleting_leaves_a_tombstone_and_keeps_the_text_for_the_audit(team, doc):
    root = say(team.commenter, doc, "Wrong thread, sorry")
    reply = services.comment_reply(
        actor=team.editor, doc_access=doc_access_for(team.editor, doc), comment_id=root.pk, body="?"
    )
    services.comment_delete(
        actor=team.commenter, doc_access=doc_access_for(team.commenter, doc), comment_id=root.pk
    )
    root.refresh_from_db()
    assert (root.body, root.deleted_by) == ("", team.commenter)
    assert CommentRevision.objects.get(comment=root).body == "Wrong thread, sorry"
    [thread] = document_threads(doc_access=doc_access_for(team.viewer, doc))
    assert thread.is_deleted
    assert [r.pk for r in thread.thread_replies] == [reply.pk]  # type: ignore[attr-defined]


def test_managers_moderate_but_other_commenters_cannot_delete(team, doc):
    comment = say(team.editor, doc, "Off topic")
    with pytest.raises(PermissionDenied):
        services.comment_delete(
            actor=team.commenter,
            doc_access=doc_access_for(team.commenter, doc),
            comment_id=comment.pk,
        )
    services.comment_delete(
        actor=team.manager, doc_access=doc_access_for(team.manager, doc), comment_id=comment.pk
    )
    assert Comment.objects.get(pk=comment.pk).is_deleted


def test_threads_are_resolved_and_reopened_replies_are_not(team, doc):
    root = say(team.commenter, doc)
    reply = services.comment_reply(
        actor=team.editor,
        doc_access=doc_access_for(team.editor, doc),
        comment_id=root.pk,
        body="Done",
    )
    with pytest.raises(PermissionDenied):
        services.comment_set_resolved(
            actor=team.editor,
            doc_access=doc_access_for(team.editor, doc),
            comment_id=reply.pk,
            resolved=True,
        )
    resolved = services.comment_set_resolved(
        actor=team.editor,
        doc_access=doc_access_for(team.editor, doc),
        comment_id=root.pk,
        resolved=True,
    )
    assert resolved.resolved_by == team.editor
    reopened = services.comment_set_resolved(
        actor=team.commenter,
        doc_access=doc_access_for(team.commenter, doc),
        comment_id=root.pk,
        resolved=False,
    )
    assert reopened.resolved_at is None
    actions = list(
        AuditEvent.objects.filter(target_type="comment")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == [Action.COMMENT_RESOLVED, Action.COMMENT_REOPENED]


def test_several_threads_are_resolved_at_once_each_told_and_audited(team, doc):
    from commonroom.comments import hooks
    from commonroom.live.models import Event

    first, second, done = say(team.commenter, doc), say(team.editor, doc), say(team.commenter, doc)
    services.comment_set_resolved(
        actor=team.commenter,
        doc_access=doc_access_for(team.commenter, doc),
        comment_id=done.pk,
        resolved=True,
    )
    reply = services.comment_reply(
        actor=team.editor, doc_access=doc_access_for(team.editor, doc), comment_id=first.pk,
        body="Noted.",
    )  # fmt: skip
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):  # a reply is not a thread: nothing is resolved
        services.threads_resolve(
            actor=team.editor,
            doc_access=doc_access_for(team.editor, doc),
            comment_ids=[first.pk, reply.pk],
        )
    with pytest.raises(PermissionDenied):  # a viewer may not resolve
        services.threads_resolve(
            actor=team.viewer, doc_access=doc_access_for(team.viewer, doc), comment_ids=[first.pk]
        )
    assert AuditEvent.objects.count() == before
    assert not Comment.objects.filter(pk=first.pk, resolved_at__isnull=False).exists()
    told: list[hooks.CommentResolved] = []
    with hooks.subscribed(hooks.CommentResolved, told.append):
        resolved = services.threads_resolve(
            actor=team.manager,
            doc_access=doc_access_for(team.manager, doc),
            comment_ids=[second.pk, done.pk, first.pk],
        )
    assert [c.pk for c in resolved] == [first.pk, second.pk]  # oldest first; done left alone
    assert [(c.comment.pk, c.resolved) for c in told] == [(first.pk, True), (second.pk, True)]
    by = dict(Comment.objects.filter(pk__in=[first.pk, second.pk, done.pk]).values_list(
        "pk", "resolved_by"
    ))  # fmt: skip
    assert by == {first.pk: team.manager.pk, second.pk: team.manager.pk, done.pk: team.commenter.pk}
    audited = AuditEvent.objects.filter(pk__gt=0).order_by("-seq")[:2]
    assert [(e.action, e.target_id) for e in reversed(audited)] == [
        (Action.COMMENT_RESOLVED, str(first.pk)),
        (Action.COMMENT_RESOLVED, str(second.pk)),
    ]
    live = Event.objects.filter(kind="comment.updated").order_by("-id")[:2]
    assert {e.data["thread"] for e in live} == {str(first.pk), str(second.pk)}
    with pytest.raises(NotFound):
        services.threads_resolve(
            actor=team.manager,
            doc_access=doc_access_for(team.manager, doc),
            comment_ids=[first.pk, "not-an-id"],
        )


def test_a_thread_whose_first_comment_was_deleted_still_takes_replies_and_resolves(team, doc):
    root = say(team.commenter, doc, "Withdrawn")
    services.comment_delete(
        actor=team.commenter, doc_access=doc_access_for(team.commenter, doc), comment_id=root.pk
    )
    access = doc_access_for(team.editor, doc)
    reply = services.comment_reply(
        actor=team.editor, doc_access=access, comment_id=root.pk, body="Still relevant"
    )
    assert reply.thread_id == root.pk
    resolved = services.comment_set_resolved(
        actor=team.editor, doc_access=access, comment_id=root.pk, resolved=True
    )
    assert resolved.resolved_by == team.editor
    reopened = services.comment_set_resolved(
        actor=team.editor, doc_access=access, comment_id=root.pk, resolved=False
    )
    assert reopened.resolved_at is None
    # The deleted words themselves stay gone: no edit, no second delete.
    mine = doc_access_for(team.commenter, doc)
    with pytest.raises(NotFound):
        services.comment_edit(actor=team.commenter, doc_access=mine, comment_id=root.pk, body="x")
    with pytest.raises(NotFound):
        services.comment_delete(actor=team.commenter, doc_access=mine, comment_id=root.pk)
    with pytest.raises(PermissionDenied):
        services.comment_reply(
            actor=team.viewer,
            doc_access=doc_access_for(team.viewer, doc),
            comment_id=root.pk,
            body="x",
        )


@pytest.mark.parametrize("body", ["", "   \n\t ", "\x00"])
def test_an_empty_comment_is_refused(team, doc, body):
    with pytest.raises(ApplicationError) as error:
        say(team.commenter, doc, body)
    assert error.value.code == "empty_comment"
    assert not Comment.objects.exists()


def test_a_person_removed_mid_request_cannot_post(team, doc):
    stale = doc_access_for(team.commenter, doc)  # read at the start of the request
    Membership.objects.filter(workspace=team.workspace, user=team.commenter).delete()
    with pytest.raises(NotFound):
        services.comment_create(actor=team.commenter, doc_access=stale, body="Still here?")
    assert not Comment.objects.exists()


def test_an_archived_workspace_takes_no_comments(team, doc):
    from commonroom.workspaces.selectors import workspace_access

    workspace_set_archived(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
        archived=True,
    )
    with pytest.raises(PermissionDenied, match="archived"):
        say(team.commenter, doc)


def test_a_forged_or_foreign_comment_id_is_not_found(team, doc):
    other = upload(team.editor, team.workspace, "agenda.docx", b"x").document
    foreign = say(team.commenter, other)
    with pytest.raises(NotFound):
        services.comment_reply(
            actor=team.commenter,
            doc_access=doc_access_for(team.commenter, doc),
            comment_id=foreign.pk,
            body="x",
        )
    with pytest.raises(NotFound):
        services.comment_reply(
            actor=team.commenter,
            doc_access=doc_access_for(team.commenter, doc),
            comment_id="not-a-uuid",
            body="x",
        )
