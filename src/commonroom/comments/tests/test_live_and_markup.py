"""Comment services, second slice: Markdown-lite rendered safely, @mentions of members only,
client keys that make a resend harmless, and live events that exist exactly when the change does."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.db import transaction

from commonroom.audit.models import Action, AuditEvent
from commonroom.comments import services
from commonroom.comments.models import Comment
from commonroom.core.exceptions import ApplicationError, Conflict
from commonroom.documents.tests.factories import doc_access_for, upload
from commonroom.live import services as live_services
from commonroom.live.models import Event

pytestmark = pytest.mark.django_db


def comment_events():
    """The comment events (the document's upload raised a version event of its own)."""
    return Event.objects.filter(kind__startswith="comment.")


@pytest.fixture
def doc(team):
    return upload(team.editor, team.workspace, "minutes.docx", b"v1").document


@pytest.fixture
def announced(monkeypatch):
    """What was announced to the channel layer (publish announces after commit)."""
    sent = []
    monkeypatch.setattr(live_services, "announce", lambda event: sent.append(event.pk))
    return sent


def say(user, doc, body="Paragraph 2 needs the agency figure.", **kwargs):
    return services.comment_create(
        actor=user, doc_access=doc_access_for(user, doc), body=body, **kwargs
    )


def reply(user, doc, comment, body="Agreed.", **kwargs):
    return services.comment_reply(
        actor=user, doc_access=doc_access_for(user, doc), comment_id=comment.pk, body=body, **kwargs
    )


# --- Markdown-lite, sanitised ----------------------------------------------------------------


def test_markdown_lite_is_rendered(team, doc):
    comment = say(team.commenter, doc, "**Agreed**, see _page 3_")
    assert comment.body == "**Agreed**, see _page 3_"
    assert "<strong>Agreed</strong>" in comment.body_html
    assert "<em>page 3</em>" in comment.body_html


class Tags(HTMLParser):
    """Every element of a piece of HTML, with its attributes, as a browser would parse it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        "[click](javascript:alert(1))",
        "<javascript:alert(1)>",
        '<img src="x" onerror="alert(1)">',
        '<a href="https://x.test" onclick="steal()">x</a>',
        '<iframe src="https://x.test"></iframe>',
    ],
)
def test_typed_html_and_scripts_are_inert(team, doc, body):
    comment = say(team.commenter, doc, body)
    for tag, attrs in Tags(comment.body_html).found:
        assert tag in {"p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "code"}
        assert not [name for name in attrs if name.startswith("on")]
        assert not (attrs.get("href") or "https:").lower().startswith("javascript")
    assert comment.body == body  # the text itself is kept as typed


def test_links_open_without_handing_over_the_page(team, doc):
    comment = say(team.commenter, doc, "See https://www.england.nhs.uk/ for the guidance")
    assert 'href="https://www.england.nhs.uk/"' in comment.body_html
    assert 'rel="noopener noreferrer"' in comment.body_html


# --- Mentions --------------------------------------------------------------------------------


def test_mentioning_members_records_them(team, doc):
    comment = say(team.commenter, doc, "@priya@example.org and @tom, can you check?")
    assert set(comment.mentioned.all()) == {team.manager, team.editor}
    assert '<span class="cr-mention">@Priya Shah</span>' in comment.body_html


def test_mentioning_a_non_member_is_refused_and_nothing_is_kept(team, doc, announced):
    with pytest.raises(ApplicationError) as refused:
        say(team.commenter, doc, "@outsider@example.org please look")
    assert refused.value.code == "unknown_mention"
    assert "not a member of this workspace" in refused.value.message
    assert not Comment.objects.exists()
    assert not comment_events().exists()
    assert not AuditEvent.objects.filter(action=Action.COMMENT_CREATED).exists()


def test_an_email_address_in_the_text_is_not_a_mention(team, doc):
    comment = say(team.commenter, doc, "Write to outsider@example.org about it")
    assert not comment.mentioned.exists()


def test_editing_renders_again_and_resolves_mentions_again(team, doc):
    comment = say(team.commenter, doc, "@tom please check")
    assert list(comment.mentioned.all()) == [team.editor]
    edited = services.comment_edit(
        actor=team.commenter,
        doc_access=doc_access_for(team.commenter, doc),
        comment_id=comment.pk,
        body="**@priya** please check",
    )
    edited.refresh_from_db()
    assert list(edited.mentioned.all()) == [team.manager]
    assert "<strong>" in edited.body_html and "Priya Shah" in edited.body_html
    with pytest.raises(ApplicationError, match="not a member"):
        services.comment_edit(
            actor=team.commenter,
            doc_access=doc_access_for(team.commenter, doc),
            comment_id=comment.pk,
            body="@outsider@example.org",
        )
    edited.refresh_from_db()
    assert edited.body == "**@priya** please check"


def test_deleting_empties_the_html_and_the_mentions(team, doc):
    comment = say(team.commenter, doc, "@tom please check")
    services.comment_delete(
        actor=team.commenter, doc_access=doc_access_for(team.commenter, doc), comment_id=comment.pk
    )
    comment.refresh_from_db()
    assert (comment.body, comment.body_html) == ("", "")
    assert not comment.mentioned.exists()


# --- Client keys -----------------------------------------------------------------------------


def test_a_resend_with_the_same_key_returns_the_first_comment(team, doc):
    first = say(team.commenter, doc, "Sent from a train", client_key="k-1")
    again = say(team.commenter, doc, "Sent from a train", client_key="k-1")
    assert (first.is_new, again.is_new) == (True, False)
    assert again.pk == first.pk
    assert Comment.objects.count() == 1
    assert AuditEvent.objects.filter(action=Action.COMMENT_CREATED).count() == 1
    assert comment_events().filter(kind="comment.created").count() == 1


def test_a_reply_resent_with_its_key_is_stored_once(team, doc):
    thread = say(team.commenter, doc)
    first = reply(team.editor, doc, thread, client_key="r-1")
    again = reply(team.editor, doc, thread, client_key="r-1")
    assert again.pk == first.pk and not again.is_new
    assert thread.replies.count() == 1


def test_keys_are_per_author_and_an_empty_key_is_no_key(team, doc):
    say(team.commenter, doc, client_key="same")
    say(team.editor, doc, client_key="same")
    say(team.commenter, doc, "one")
    say(team.commenter, doc, "two")
    assert Comment.objects.count() == 4


def test_a_key_used_on_another_document_is_a_conflict(team, doc):
    other = upload(team.editor, team.workspace, "agenda.docx", b"a").document
    say(team.commenter, doc, client_key="k-9")
    with pytest.raises(Conflict):
        say(team.commenter, other, client_key="k-9")


def test_a_malformed_key_is_refused(team, doc):
    with pytest.raises(ApplicationError, match="client key"):
        say(team.commenter, doc, client_key="<bad key>")


# --- Live events -----------------------------------------------------------------------------


def test_every_write_publishes_the_agreed_event(
    team, doc, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        thread = say(team.commenter, doc, client_key="c-1")
    event = comment_events().get()
    assert event.kind == "comment.created"
    assert event.workspace_id == team.workspace.pk
    # Ids and facts: the page derives the thread's place and fragment from them.
    assert event.data == {
        "document": str(doc.pk),
        "thread": str(thread.pk),
        "comment": str(thread.pk),
        "version": 1,
        "author_id": team.commenter.pk,
        "client_key": "c-1",
    }
    assert announced == [event.pk]

    access = doc_access_for(team.manager, doc)
    with django_capture_on_commit_callbacks(execute=True):
        answer = reply(team.editor, doc, thread, client_key="r-1")
        services.comment_set_resolved(
            actor=team.manager, doc_access=access, comment_id=thread.pk, resolved=True
        )
        services.comment_set_resolved(
            actor=team.manager, doc_access=access, comment_id=thread.pk, resolved=False
        )
        services.comment_delete(actor=team.manager, doc_access=access, comment_id=answer.pk)
    later = list(comment_events().order_by("id"))[1:]
    assert [(e.kind, e.data["comment"], e.data["author_id"]) for e in later] == [
        ("comment.created", str(answer.pk), team.editor.pk),
        ("comment.updated", str(thread.pk), team.manager.pk),
        ("comment.updated", str(thread.pk), team.manager.pk),
        ("comment.updated", str(answer.pk), team.manager.pk),
    ]
    # A reply's event names its thread: screens fetch and replace the whole thread.
    assert {e.data["thread"] for e in later} == {str(thread.pk)}
    assert later[0].data["client_key"] == "r-1"
    assert announced == [event.pk, *[e.pk for e in later]]


def test_an_edit_publishes_an_update_and_an_unchanged_edit_nothing(team, doc):
    comment = say(team.commenter, doc, "First words")
    access = doc_access_for(team.commenter, doc)
    services.comment_edit(
        actor=team.commenter, doc_access=access, comment_id=comment.pk, body="New"
    )
    services.comment_edit(
        actor=team.commenter, doc_access=access, comment_id=comment.pk, body="New"
    )
    assert list(comment_events().order_by("id").values_list("kind", flat=True)) == [
        "comment.created",
        "comment.updated",
    ]


def test_nothing_is_announced_before_the_commit(
    team, doc, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        say(team.commenter, doc)
        assert comment_events().count() == 1
        assert announced == []
    assert callbacks  # waiting for the commit
    for callback in callbacks:
        callback()
    assert announced == [comment_events().get().pk]


def test_a_rolled_back_comment_leaves_no_event_and_is_never_announced(
    team, doc, announced, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        say(team.commenter, doc)
        raise RuntimeError("the request failed after the service")
    assert not Comment.objects.exists()
    assert not comment_events().exists()
    assert callbacks == []
    assert announced == []


def test_a_resend_publishes_nothing(team, doc):
    say(team.commenter, doc, client_key="once")
    say(team.commenter, doc, client_key="once")
    assert comment_events().count() == 1
