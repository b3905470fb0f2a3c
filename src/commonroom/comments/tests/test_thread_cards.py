"""``{% thread_card %}``: a thread drawn as its template drew it, open or resolved, with or
without replies and a suggestion's parts, for every role, and as the fragment live screens
fetch (without the mentions' address made yet)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.template import Context, Template
from django.utils.safestring import mark_safe

from commonroom.comments.selectors import document_threads, with_abilities
from commonroom.comments.services import comment_create, comment_reply, comment_set_resolved
from commonroom.documents.selectors import document_access
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db

# ``comments/_thread.html`` (with ``comments/_comments.html`` in it) as it was in template
# markup, kept beside this test: what the tag must still write, spaces apart.
TEMPLATE_THREAD = Template((Path(__file__).parent / "thread_card_template.html").read_text())
TAG_THREAD = Template("{% load comment_cards %}{% thread_card thread %}")


def _spaces_apart(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html)).strip()


@pytest.fixture
def threads(team: Any) -> Any:
    team.doc = upload_document(team.workspace, team.editor, name="minutes.txt")
    access = document_access(
        user=team.commenter, workspace_id=team.workspace.pk, document_id=team.doc.pk
    )
    alone = comment_create(actor=team.commenter, doc_access=access, body="On its own <b>")
    talked = comment_create(actor=team.editor, doc_access=access, body="First & foremost")
    comment_reply(actor=team.commenter, doc_access=access, comment_id=talked.pk, body="Agreed")
    done = comment_create(actor=team.commenter, doc_access=access, body="Settled")
    comment_reply(actor=team.editor, doc_access=access, comment_id=done.pk, body="Yes")
    manager = document_access(
        user=team.manager, workspace_id=team.workspace.pk, document_id=team.doc.pk
    )
    comment_set_resolved(actor=team.manager, doc_access=manager, comment_id=done.pk, resolved=True)
    return alone, talked, done


@pytest.mark.parametrize("role", ["manager", "editor", "commenter", "viewer"])
@pytest.mark.parametrize("mentions_url", ["/mentions/", None])
def test_each_thread_is_the_templates(
    team: Any, threads: Any, role: str, mentions_url: str | None
) -> None:
    user = team.by_role[role]
    access = document_access(user=user, workspace_id=team.workspace.pk, document_id=team.doc.pk)
    shown = with_abilities(
        document_threads(doc_access=access, mentions=False), doc_access=access, user=user
    )
    assert len(shown) == 3
    shown[0].parts = mark_safe('<div class="cr-suggestion">A part &amp; more</div>')
    resolved = [t for t in shown if t.resolved_at]
    assert len(resolved) == 1
    for thread in shown:
        context: dict[str, Any] = {
            "thread": thread,
            "workspace": team.workspace,
            "document": access.document,
            "user": user,
            "csrf_token": "TOKEN",
        }
        if mentions_url is not None:
            context["mentions_url"] = mentions_url
        drawn = TAG_THREAD.render(Context(context))
        expected = TEMPLATE_THREAD.render(Context(context))
        assert f'id="thread-{thread.pk}"' in drawn
        assert _spaces_apart(drawn) == _spaces_apart(expected)
    drawn = TAG_THREAD.render(Context({**context, "thread": resolved[0]}))
    assert "cr-thread--resolved" in drawn and "(2 comments)" in drawn
