"""Who is notified of what: mentions, replies, followers, new versions, conversations; never
the author, never twice, never someone who is not a member any more."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from commonroom.accounts.models import User
from commonroom.documents.selectors import document_access
from commonroom.documents.services import version_restore
from commonroom.notifications import services
from commonroom.notifications.models import DocumentSeen, Follow, Notification
from commonroom.notifications.tests.factories import post_comment
from commonroom.workspaces.models import Membership
from commonroom.workspaces.tests.factories import upload_document


@pytest.fixture
def doc(team):
    return upload_document(team.workspace, team.manager, name="minutes.docx")


def kinds(comment_or_key):
    key = comment_or_key if isinstance(comment_or_key, str) else f"comment:{comment_or_key.pk}"
    return {
        n.recipient.email: n.kind
        for n in Notification.objects.filter(dedupe_key=key).select_related("recipient")
    }


def test_a_new_thread_notifies_mentioned_and_followers_never_the_author(team, doc):
    # The manager uploaded the document, so follows it.
    comment = post_comment(doc, team.commenter, "@tom can you check?", mentioned=[team.editor])
    assert kinds(comment) == {"tom@example.org": "mention", "priya@example.org": "new_comment"}
    n = Notification.objects.get(recipient=team.editor)
    assert n.summary == f"{team.commenter.display_name} mentioned you on minutes.docx"
    assert n.target_url.endswith(f"/d/{doc.pk}/#thread-{comment.pk}")
    assert (n.actor, n.document, n.workspace, n.excerpt) == (
        team.commenter,
        doc,
        team.workspace,
        "@tom can you check?",
    )
    # The author follows the document from now on.
    assert Follow.objects.filter(user=team.commenter, document=doc).exists()


def test_replies_notify_earlier_authors_of_the_thread_and_mention_wins(team, doc):
    root = post_comment(doc, team.commenter, "Question")
    reply = post_comment(doc, team.editor, "Answer", thread=root)
    assert kinds(reply) == {"sam@example.org": "reply", "priya@example.org": "new_comment"}
    # One notification per person per comment: a mention beats a reply beats a new comment.
    again = post_comment(
        doc, team.manager, "@sam see this", thread=root, mentioned=[team.commenter]
    )
    assert kinds(again) == {"sam@example.org": "mention", "tom@example.org": "reply"}
    assert Notification.objects.filter(recipient=team.commenter).count() == 2


def test_a_comment_never_notifies_twice(team, doc):
    comment = post_comment(doc, team.commenter, mentioned=[team.editor])
    with transaction.atomic():
        assert services.comment_posted(comment=comment, mentioned=[team.editor]) == []
    assert Notification.objects.filter(recipient=team.editor).count() == 1


def test_mentioning_yourself_or_an_outsider_notifies_nobody(team, doc):
    Follow.objects.all().delete()
    comment = post_comment(doc, team.commenter, mentioned=[team.commenter, team.outsider])
    assert kinds(comment) == {}


def test_a_removed_member_gets_nothing_even_as_a_follower_or_thread_author(team, doc):
    root = post_comment(doc, team.editor, "Question")
    Membership.objects.filter(user=team.editor).delete()
    Membership.objects.filter(user=team.manager).update(role="manager")
    reply = post_comment(doc, team.commenter, "Answer", thread=root, mentioned=[team.editor])
    assert "tom@example.org" not in kinds(reply)
    assert Follow.objects.filter(user=team.editor, document=doc).exists()  # kept, but silent


def test_an_inactive_person_gets_nothing(team, doc):
    team.editor.is_active = False
    team.editor.save()
    comment = post_comment(doc, team.commenter, mentioned=[team.editor])
    assert kinds(comment) == {"priya@example.org": "new_comment"}


def test_a_new_version_notifies_followers_and_the_uploader_follows(team, doc):
    Follow.objects.create(user=team.viewer, document=doc)
    version = upload_document(team.workspace, team.editor, name="minutes.docx", content=b"v2")
    assert version == doc
    doc.refresh_from_db()
    v2 = doc.versions.get(number=2)
    assert kinds(f"version:{v2.pk}") == {
        "priya@example.org": "new_version",
        "viewer@example.org": "new_version",
    }
    n = Notification.objects.get(recipient=team.viewer)
    assert n.summary == f"{team.editor.display_name} uploaded version 2 of minutes.docx"
    assert n.target_url.endswith("#v2")
    assert Follow.objects.filter(user=team.editor, document=doc).exists()
    # The uploader has seen what they uploaded.
    assert DocumentSeen.objects.get(user=team.editor, document=doc).version_number == 2


def test_a_restored_version_notifies_followers_too(team, doc):
    upload_document(team.workspace, team.editor, name="minutes.docx", content=b"v2")
    access = document_access(user=team.editor, workspace_id=team.workspace.pk, document_id=doc.pk)
    v3 = version_restore(actor=team.editor, doc_access=access, number=1)
    [n] = Notification.objects.filter(dedupe_key=f"version:{v3.pk}")
    assert n.recipient == team.manager
    assert "restored version 1 as version 3 of minutes.docx" in n.summary


def test_a_rolled_back_upload_notifies_nobody(team, doc):
    Follow.objects.create(user=team.viewer, document=doc)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        upload_document(team.workspace, team.editor, name="minutes.docx", content=b"v2")
        raise Boom
    assert not Notification.objects.filter(recipient=team.viewer).exists()


# --- Conversations (duck-typed: the conversations app's models, written straight to the table) ---


def test_a_message_notifies_mentioned_and_earlier_writers(team, doc):
    models = pytest.importorskip("commonroom.conversations.models")
    conversation = models.Conversation.objects.create(
        workspace=team.workspace, title="Budget questions", created_by=team.manager
    )
    first = models.Message.objects.create(conversation=conversation, author=team.manager, body="Hi")
    with transaction.atomic():
        services.message_posted(message=first, mentioned=[])
    second = models.Message.objects.create(
        conversation=conversation, author=team.editor, body="@sam look", document=doc
    )
    with transaction.atomic():
        services.message_posted(message=second, mentioned=[team.commenter, team.outsider])
    assert kinds(f"message:{second.pk}") == {
        "priya@example.org": "conversation",
        "sam@example.org": "mention",
    }
    n = Notification.objects.get(recipient=team.commenter)
    assert n.summary == f"{team.editor.display_name} mentioned you in “Budget questions”"
    assert n.document == doc
    assert n.target_url.endswith(f"#message-{second.pk}")
    assert kinds(f"message:{first.pk}") == {}


def test_mark_all_read_touches_only_what_the_person_is_shown(team: Any) -> None:
    from commonroom.notifications.models import Notification
    from commonroom.notifications.services import mark_all_read
    from commonroom.workspaces.models import Membership
    from commonroom.workspaces.tests.factories import make_workspace

    other = make_workspace(manager=team.manager, name="Left behind")
    Membership.objects.create(workspace=other, user=team.viewer, role="viewer")
    for ws in (team.workspace, other):
        Notification.objects.create(
            recipient=team.viewer, workspace=ws, kind="mention", summary="s", dedupe_key=f"k{ws.pk}"
        )
    Membership.objects.filter(workspace=other, user=team.viewer).delete()
    assert mark_all_read(user=team.viewer) == 1
    assert Notification.objects.get(workspace=other).read_at is None


def test_summaries_and_excerpts_are_one_clean_line_cut_to_length(team, doc):
    # A name set outside the services (the admin site, say), with a bidirectional override.
    User.objects.filter(pk=team.commenter.pk).update(full_name="Sam\u202e Jones")
    team.commenter.refresh_from_db()
    body = "First line\n\n  second\tline " + "word " * 100
    comment = post_comment(doc, team.commenter, body, mentioned=[team.editor])
    n = Notification.objects.get(recipient=team.editor, dedupe_key=f"comment:{comment.pk}")
    assert n.summary == "Sam Jones mentioned you on minutes.docx"
    one_line = "First line second line " + " ".join(["word"] * 100)
    assert n.excerpt == one_line[: services.MAX_TEXT - 1] + "…"
    assert len(n.excerpt) == services.MAX_TEXT
    # Short enough: kept whole, nothing added.
    short = post_comment(doc, team.commenter, " Short\nreply ", mentioned=[team.editor])
    n = Notification.objects.get(recipient=team.editor, dedupe_key=f"comment:{short.pk}")
    assert n.excerpt == "Short reply"
