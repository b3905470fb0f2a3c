"""``{% comment_card %}``: a comment drawn as the page's template drew it, for every state it can
be in, everything escaped but the sanitised body, the forms only for whoever may use them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.template import Context, Template
from django.utils import timezone

from commonroom.comments.passages import PassageShown
from commonroom.comments.selectors import document_threads, with_abilities
from commonroom.comments.services import comment_create, comment_delete, comment_reply
from commonroom.comments.templatetags.comment_cards import _when
from commonroom.documents.selectors import document_access
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db

CARD = Template("{% load comment_cards %}{% comment_card c %}")


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 59, tzinfo=UTC),  # the hour before British Summer Time
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # its first minute, 02:00 in London
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
    ],
)
def test_times_are_written_as_the_date_filter_writes_them(when: datetime) -> None:
    expected = Template(
        '<time datetime="{{ v|date:\'c\' }}">{{ v|date:"j M Y, H:i" }}</time>'
    ).render(Context({"v": when}))
    assert _when(when) == expected


def _page(team: Any, user: Any) -> tuple[Any, list[Any]]:
    access = document_access(user=user, workspace_id=team.workspace.pk, document_id=team.doc.pk)
    threads = with_abilities(
        document_threads(doc_access=access, mentions=False), doc_access=access, user=user
    )
    return access, threads


def _draw(team: Any, user: Any, comment: Any) -> str:
    access, _ = _page(team, user)
    return CARD.render(
        Context(
            {
                "c": comment,
                "workspace": team.workspace,
                "document": access.document,
                "user": user,
                "mentions_url": "/mentions/",
                "csrf_token": "TOKEN",
            }
        )
    )


@pytest.fixture
def thread(team: Any) -> Any:
    team.doc = upload_document(team.workspace, team.editor, name="minutes.txt")
    access = document_access(
        user=team.commenter, workspace_id=team.workspace.pk, document_id=team.doc.pk
    )
    first = comment_create(
        actor=team.commenter, doc_access=access, body="<b>bold?</b> **yes** & more"
    )
    comment_reply(actor=team.commenter, doc_access=access, comment_id=first.pk, body="again")
    return first


def test_a_comment_its_author_may_edit_and_delete(team: Any, thread: Any) -> None:
    _, [root] = _page(team, team.commenter)
    html = _draw(team, team.commenter, root)
    assert f'id="comment-{root.pk}"' in html
    assert "<strong>yes</strong>" in html  # the sanitised body, as written
    assert "&lt;b&gt;bold?&lt;/b&gt; **yes** &amp; more</textarea>" in html  # its words, escaped
    assert f'action="/w/{team.workspace.pk}/d/{team.doc.pk}/comments/{root.pk}/edit/"' in html
    assert 'data-mentions="/mentions/"' in html
    assert html.count('name="csrfmiddlewaretoken" value="TOKEN"') == 2
    assert "Delete your comment?" in html
    assert "(edited)" not in html and "on version" not in html


def test_a_reader_sees_no_forms_and_a_manager_may_delete_only(team: Any, thread: Any) -> None:
    _, [root] = _page(team, team.viewer)
    html = _draw(team, team.viewer, root)
    assert "<form" not in html and "csrfmiddlewaretoken" not in html
    _, [root] = _page(team, team.manager)
    html = _draw(team, team.manager, root)
    assert "cr-comment__edit" not in html
    name = team.commenter.display_name
    assert f"Delete the comment by {name}? Its words are removed" in html


def test_a_deleted_comment_is_a_tombstone(team: Any, thread: Any) -> None:
    access = document_access(
        user=team.commenter, workspace_id=team.workspace.pk, document_id=team.doc.pk
    )
    comment_delete(actor=team.commenter, doc_access=access, comment_id=thread.pk)
    _, [root] = _page(team, team.commenter)
    html = _draw(team, team.commenter, root)
    assert "cr-comment--deleted" in html and "This comment was deleted" in html
    assert "yes" not in html and "<form" not in html


def test_an_old_edited_comment_and_its_passage(team: Any, thread: Any) -> None:
    _, [root] = _page(team, team.commenter)
    root.edited_at = timezone.now()
    root.anchor_quote = "<the passage>"
    root.passage = PassageShown("p-3", None, None, "")
    html = _draw(team, team.commenter, root)
    assert ' <span class="cr-meta">(edited)</span>' in html
    assert 'href="#p-3" data-version="1"' in html
    assert "&lt;the passage&gt;</a></blockquote>" in html
    root.passage = PassageShown("", 2, None, "")
    html = _draw(team, team.commenter, root)
    assert "&lt;the passage&gt;</blockquote>" in html
    assert "The passage changed in version 2." in html
    root.passage = PassageShown("", None, 3, "no_preview")
    html = _draw(team, team.commenter, root)
    assert "could not be checked in version 3: it has no preview." in html
    root.created_at = timezone.now() - timedelta(days=1)
    team.doc.current_version_number = 2
    team.doc.save(update_fields=["current_version_number"])
    html = _draw(team, team.commenter, root)
    assert '<strong class="nhsuk-tag nhsuk-tag--grey">on version 1</strong>' in html
