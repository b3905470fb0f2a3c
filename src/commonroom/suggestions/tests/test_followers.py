"""Who follows a suggestion made (``suggestions.hooks``): notifications say "X suggested a change
to <document>" and quote the change (a mention keeps its own wording), and search finds the
thread by the suggested text and the passage. Both in the suggestion's transaction: a suggestion
refused leaves neither."""

from __future__ import annotations

from typing import Any

import pytest

from commonroom.core.exceptions import ApplicationError
from commonroom.notifications.models import Kind, Notification
from commonroom.search.selectors import search
from commonroom.suggestions import hooks
from commonroom.suggestions.tests.factories import docx_bytes, suggest, with_preview

pytestmark = pytest.mark.django_db


@pytest.fixture
def doc(team: Any) -> Any:
    # Uploaded by the manager, who follows the document from then on.
    return with_preview(
        team.manager,
        team.workspace,
        "minutes.docx",
        docx_bytes("The board met on Tuesday.", "Ten members came."),
    )


def test_followers_are_told_a_change_was_suggested(team, doc) -> None:
    suggest(team.editor, doc, "Tuesday", "replace", "Wednesday")
    told = Notification.objects.get(recipient=team.manager, kind=Kind.NEW_COMMENT)
    assert told.summary == f"{team.editor.display_name} suggested a change to minutes.docx"
    assert told.excerpt == "“Tuesday” → “Wednesday”"
    suggest(team.commenter, doc, "Ten members", "delete")
    deleted = Notification.objects.filter(recipient=team.manager, kind=Kind.NEW_COMMENT).latest(
        "created_at"
    )
    assert deleted.summary == f"{team.commenter.display_name} suggested a change to minutes.docx"
    assert deleted.excerpt == "Delete “Ten members”"
    # The suggester is not told of their own suggestion.
    assert not Notification.objects.filter(recipient=team.commenter, kind=Kind.NEW_COMMENT)


def test_a_mention_in_the_reason_keeps_its_wording(team, doc) -> None:
    suggest(team.editor, doc, "Tuesday", "replace", "Wednesday", reason="@sam is this right?")
    mention = Notification.objects.get(recipient=team.commenter)
    assert mention.kind == Kind.MENTION
    assert mention.summary == f"{team.editor.display_name} mentioned you on minutes.docx"
    assert Notification.objects.get(recipient=team.manager).summary.endswith(
        "suggested a change to minutes.docx"
    )


def test_search_finds_the_suggested_text_and_the_passage(team, doc) -> None:
    assert not search(user=team.viewer, q="Wednesday").hits
    made = suggest(team.editor, doc, "Tuesday", "replace", "Wednesday")
    hits = search(user=team.viewer, q="Wednesday").hits
    assert [h.object_id for h in hits] == [str(made.comment_id)]
    assert str(made.comment_id) in {h.object_id for h in search(user=team.viewer, q="Tuesday").hits}


def test_a_refused_suggestion_tells_nobody(team, doc) -> None:
    seen: list[hooks.SuggestionMade] = []
    with hooks.subscribed(hooks.SuggestionMade, seen.append), pytest.raises(ApplicationError):
        suggest(team.editor, doc, "Tuesday", "replace", "Tuesday")
    assert seen == []
    assert not Notification.objects.filter(kind=Kind.NEW_COMMENT).exists()
    with hooks.subscribed(hooks.SuggestionMade, seen.append):
        made = suggest(team.editor, doc, "Tuesday", "replace", "Wednesday")
    assert [(c.comment.pk, c.quote, c.new_text) for c in seen] == [
        (made.comment_id, "Tuesday", "Wednesday")
    ]
