"""``{% version_items %}``: the document page's versions drawn as its template drew them, for
every state a version can be in and whatever its reader may do."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.template import Context, Template

from commonroom.documents.tests.factories import new_version, upload

pytestmark = pytest.mark.django_db

# The versions' list as ``documents/detail.html`` drew it with template markup, kept beside this
# test: what the tag must still write, spaces apart.
TEMPLATE_ITEMS = Template((Path(__file__).parent / "version_items_template.html").read_text())
TAG_ITEMS = Template("{% load version_items %}{% version_items %}")


def _spaces_apart(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html)).strip()


def _versions(team: Any) -> tuple[Any, list[Any]]:
    first = upload(team.editor, team.workspace, "minutes <draft>.docx", b"one")
    doc = first.document
    for content in (b"two", b"three", b"four", b"five"):
        new_version(team.manager, doc, content)
    doc.refresh_from_db()
    versions = list(doc.versions.select_related("author", "while_locked_by").order_by("-number"))
    five, four, three, two, one = versions
    # A final record still sealed, and one reopened since.
    five.record_at = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    doc.sealed_version_id = five.pk
    two.record_at = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    # Based on an older version, from a downloaded file; restored; identical.
    four.based_on_latest, four.based_on_number, four.based_on_from_file = False, 2, True
    three.restored_from_number = 1
    two.identical_to_number = 1
    # Made while someone else had it open in another program, with notes to escape.
    three.while_locked_by, three.while_locked_in = team.commenter, "Word & <co>"
    three.while_locked_since = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    one.while_locked_by, one.while_locked_in, one.while_locked_since = team.viewer, "", None
    one.note = 'Tabled by the chair "as read" <b>'
    return doc, versions


@pytest.mark.parametrize("download", [True, False])
@pytest.mark.parametrize("restore", [True, False])
@pytest.mark.parametrize("comparable", [{2, 3, 5}, None])
def test_the_items_are_the_templates(
    team: Any, download: bool, restore: bool, comparable: set[int] | None
) -> None:
    doc, versions = _versions(team)
    context: dict[str, Any] = {
        "workspace": team.workspace,
        "document": doc,
        "versions": versions,
        "abilities": {"download": download, "restore_version": restore},
        "csrf_token": "TOKEN",
    }
    if comparable is not None:
        context["comparable"] = comparable
    drawn = TAG_ITEMS.render(Context(context))
    assert drawn.count('<li class="cr-version"') == 5
    assert "Final record (reopened since)" in drawn and "Word &amp; &lt;co&gt;" in drawn
    assert "&quot;as read&quot; &lt;b&gt;" in drawn and "29 Mar 2026, 02:30" in drawn
    assert ("Restore<span" in drawn) is restore
    assert ("download>Download" in drawn) is download
    assert _spaces_apart(drawn) == _spaces_apart(TEMPLATE_ITEMS.render(Context(context)))


def test_no_versions_is_nothing(team: Any) -> None:
    doc = upload(team.editor, team.workspace, "a.txt", b"a").document
    context = {"workspace": team.workspace, "document": doc, "versions": []}
    assert TAG_ITEMS.render(Context(context)) == ""
