"""Comments anchored to a passage of the preview: the position is checked by the service (a wrong
one is dropped, never an error), the preview shows a marker after each block with open threads
on the version shown, and the thread's quote links back to its passage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from docx import Document as DocxDocument

from commonroom.comments import services
from commonroom.comments.models import Comment
from commonroom.documents.selectors import document_access
from commonroom.documents.services import version_upload
from commonroom.previews.html import insert_after_blocks
from commonroom.previews.tests import files
from commonroom.workspaces.tests.factories import upload_document

GOOD = {"block": "p-3", "start": 4, "end": 9}


def _access(user: Any, doc: Any) -> Any:
    return document_access(user=user, workspace_id=doc.workspace_id, document_id=doc.pk)


@pytest.fixture
def doc(team: Any, django_capture_on_commit_callbacks: Any, tmp_path: Path) -> Any:
    content = files.rich_docx(tmp_path / "minutes.docx").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        return upload_document(team.workspace, team.manager, name="minutes.docx", content=content)


def _say(team: Any, doc: Any, position: Any, **kwargs: Any) -> Comment:
    return services.comment_create(
        actor=team.commenter,
        doc_access=_access(team.commenter, doc),
        body="About this",
        anchor_quote="board met",
        anchor_position=position,
        **kwargs,
    )


@pytest.mark.parametrize(
    "position",
    [GOOD, json.dumps(GOOD), {"block": "p-999999", "start": 0, "end": 1_000_000}],
)
def test_a_valid_position_is_kept(team, doc, position) -> None:
    comment = _say(team, doc, position)
    comment.refresh_from_db()
    expected = position if isinstance(position, dict) else GOOD
    assert comment.anchor_position == expected
    assert comment.anchor_quote == "board met"


@pytest.mark.parametrize(
    "position",
    [
        {"block": "p-1234567", "start": 0, "end": 1},  # too many digits
        {"block": "thread-1", "start": 0, "end": 1},
        {"block": "p-3\n", "start": 0, "end": 1},
        {"block": 'p-3" onclick="x', "start": 0, "end": 1},
        {"block": "p-3", "start": 0, "end": 10**12},  # huge
        {"block": "p-3", "start": -1, "end": 2},
        {"block": "p-3", "start": 9, "end": 4},  # backwards
        {"block": "p-3", "start": "0", "end": 1},  # wrong types
        {"block": "p-3", "start": True, "end": 1},
        {"block": "p-3", "start": 0.5, "end": 1},
        {"block": 3, "start": 0, "end": 1},
        {"block": "p-3", "start": 0},  # missing
        {"block": "p-3", "start": 0, "end": 1, "extra": "x"},
        ["p-3", 0, 1],
        "not json",
        json.dumps({"block": "p-3", "start": 0, "end": 1}) + " " * 300,  # too long
        "",
        None,
        42,
    ],
)
def test_a_wrong_position_is_ignored_and_the_comment_still_posts(team, doc, position) -> None:
    comment = _say(team, doc, position)
    comment.refresh_from_db()
    assert comment.anchor_position is None
    assert comment.body == "About this"


def _page(user: Any, doc: Any) -> str:
    c = Client()
    c.force_login(user)
    r = c.get(reverse("document_detail", args=[doc.workspace_id, doc.pk]))
    assert r.status_code == 200
    return r.content.decode()


def test_the_page_shows_a_marker_after_the_block_and_the_quote_links_back(team, doc) -> None:
    first = _say(team, doc, GOOD)
    second = _say(team, doc, {"block": "p-3", "start": 0, "end": 3})
    _say(team, doc, {"block": "p-2", "start": 0, "end": 3})
    resolved = _say(team, doc, {"block": "p-1", "start": 0, "end": 3})
    services.comment_set_resolved(
        actor=team.manager,
        doc_access=_access(team.manager, doc),
        comment_id=resolved.pk,
        resolved=True,
    )
    for role in ("viewer", "commenter", "editor", "manager"):
        body = _page(team.by_role[role], doc)
        block = body.index('<p id="p-3">')
        end = body.index("</p>", block) + len("</p>")
        marker = (
            f'<div class="cr-anchors" data-anchor-for="p-3" data-threads="{first.pk} '
            f'{second.pk}"><a class="cr-anchors__link" href="#thread-{first.pk}">2 comments'
        )
        assert body[end:].startswith(marker)  # right after its block, which is unchanged
        assert "The board met on <strong>Tuesday</strong>" in body[block:end]
        assert 'data-anchor-for="p-2"' in body and ">1 comment<" in body
        assert 'data-anchor-for="p-1"' not in body  # resolved threads have no marker
        assert '<a class="cr-comment__quote-link" href="#p-3" data-version="1">' in body
    assert 'name="anchor_position"' in _page(team.commenter, doc)


def test_the_fragment_has_the_markers_and_non_members_get_404(team, doc) -> None:
    _say(team, doc, GOOD)
    url = reverse("version_preview", args=[doc.workspace_id, doc.pk, 1])
    c = Client()
    c.force_login(team.viewer)
    assert 'data-anchor-for="p-3"' in c.get(url, HTTP_HX_REQUEST="true").content.decode()
    c.force_login(team.outsider)
    assert c.get(url).status_code == 404
    assert c.get(reverse("document_detail", args=[doc.workspace_id, doc.pk])).status_code == 404
    r = c.post(
        reverse("comment_create", args=[doc.workspace_id, doc.pk]),
        {"body": "Hi", "anchor_position": json.dumps(GOOD)},
    )
    assert r.status_code == 404
    assert Comment.objects.count() == 1


def test_the_composer_post_stores_the_position(team, doc) -> None:
    c = Client()
    c.force_login(team.commenter)
    r = c.post(
        reverse("comment_create", args=[doc.workspace_id, doc.pk]),
        {"body": "Hi", "anchor_quote": "board", "anchor_position": json.dumps(GOOD)},
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 201
    assert 'href="#p-3"' in r.content.decode()
    assert Comment.objects.get().anchor_position == GOOD


def test_a_comment_on_an_older_version_not_followed_has_no_marker_and_says_its_version(
    team, doc, django_capture_on_commit_callbacks, tmp_path
) -> None:
    # Its quote ("board met") is not what its offsets hold ("board"): it cannot be followed to
    # the new version (test_passages.py follows the ones that can).
    old = _say(team, doc, GOOD)
    # The same text in other bytes (a file identical to the latest version makes no version).
    again = DocxDocument(str(files.rich_docx(tmp_path / "again.docx")))
    again.core_properties.revision = 2
    again.save(str(tmp_path / "again.docx"))
    content = (tmp_path / "again.docx").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        version_upload(
            actor=team.manager,
            doc_access=_access(team.manager, doc),
            uploaded=_upload(content),
        )
    doc.refresh_from_db()
    assert doc.current_version_number == 2
    body = _page(team.viewer, doc)
    assert "data-anchor-for" not in body
    assert f'id="thread-{old.pk}"' in body
    assert "on version 1" in body
    assert '<blockquote class="cr-comment__quote">board met</blockquote>' in body
    assert "The passage could not be checked in version 2: where it was could not be read." in body


def _upload(content: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(
        "minutes.docx",
        content,
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )


def test_insert_after_blocks_finds_the_end_of_nested_blocks() -> None:
    html = (
        '<ul><li id="p-1">One<ul><li id="p-2">Two</li></ul></li></ul>'
        '<p id="p-3">A<br>b <img src="x"> c</p><table id="p-4"><tr><td>x</td></tr></table>'
    )
    out = insert_after_blocks(html, {"p-1": "[1]", "p-2": "[2]", "p-4": "[4]", "p-9": "[9]"})
    assert out == (
        '<ul><li id="p-1">One<ul><li id="p-2">Two</li>[2]</ul></li>[1]</ul>'
        '<p id="p-3">A<br>b <img src="x"> c</p><table id="p-4"><tr><td>x</td></tr></table>[4]'
    )
    assert insert_after_blocks(html, {}) == html
