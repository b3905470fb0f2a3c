"""Compare versions: the redline on built texts, documents and workbooks through the real upload
and preview path, escaping, the page for each role (404 for outsiders and forged numbers), and the
API."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from docx import Document as WordDocument
from openpyxl import Workbook

from commonroom.audit.models import Action, AuditEvent
from commonroom.documents.selectors import document_access
from commonroom.documents.services import version_upload
from commonroom.previews.compare import (
    diff_paragraphs,
    diff_sheets,
    paragraphs_from_html,
    sheets_from_html,
)
from commonroom.previews.selectors import WAITING
from commonroom.workspaces.tests.factories import upload_document

ROLES = ["viewer", "commenter", "editor", "manager"]


def kinds(diff: Any) -> list[str]:
    return [b.kind for b in diff.blocks]


# --- the redline on built texts -----------------------------------------------------------------


def test_a_word_inserted() -> None:
    diff = diff_paragraphs(["The ward has beds."], ["The ward has twelve beds."])
    assert kinds(diff) == ["changed"]
    assert [(s.op, s.text) for s in diff.blocks[0].segments] == [
        ("same", "The ward has"),
        ("ins", "twelve"),
        ("same", "beds."),
    ]
    assert diff.summary == "1 word added, 0 removed in 1 paragraph"


def test_a_sentence_deleted() -> None:
    old = ["Beds are full. Discharges are delayed until Monday. Staff are tired."]
    new = ["Beds are full. Staff are tired."]
    diff = diff_paragraphs(old, new)
    assert [(s.op, s.text) for s in diff.blocks[0].segments] == [
        ("same", "Beds are full."),
        ("del", "Discharges are delayed until Monday."),
        ("same", "Staff are tired."),
    ]
    assert (diff.words_added, diff.words_removed) == (0, 5)
    assert diff.summary == "0 words added, 5 removed in 1 paragraph"


def test_a_word_changed_and_the_sides() -> None:
    diff = diff_paragraphs(
        ["Intro.", "Meet on Tuesday at noon."], ["Intro.", "Meet on Friday at noon."]
    )
    assert kinds(diff) == ["same", "changed"]
    block = diff.blocks[1]
    assert [(s.op, s.text) for s in block.segments] == [
        ("same", "Meet on"),
        ("del", "Tuesday"),
        ("ins", "Friday"),
        ("same", "at noon."),
    ]
    assert " ".join(s.text for s in block.left) == "Meet on Tuesday at noon."
    assert " ".join(s.text for s in block.right) == "Meet on Friday at noon."
    assert diff.summary == "1 word added, 1 removed in 1 paragraph"


def test_a_paragraph_moved() -> None:
    old = ["Apples grow on trees.", "Bananas are yellow.", "Cherries are red."]
    new = ["Bananas are yellow.", "Cherries are red.", "Apples grow on trees."]
    diff = diff_paragraphs(old, new)
    assert kinds(diff) == ["moved_from", "same", "same", "moved_to"]
    assert diff.blocks[0].move == diff.blocks[3].move == 1
    assert (diff.words_added, diff.words_removed, diff.paragraphs_changed) == (0, 0, 0)
    assert diff.summary == "1 paragraph moved"


def test_paragraphs_added_and_removed_whole() -> None:
    old = ["Keep this.", "Completely different old words here."]
    new = ["Keep this.", "Nothing alike at all, truly.", "And another new one."]
    diff = diff_paragraphs(old, new)
    assert kinds(diff) == ["same", "deleted", "inserted", "inserted"]
    assert diff.summary == "9 words added, 5 removed in 3 paragraphs"


def test_a_changed_figure_is_one_changed_paragraph() -> None:
    diff = diff_paragraphs(["Community", "-590"], ["Community", "-690"])
    assert kinds(diff) == ["same", "changed"]
    assert [(s.op, s.text) for s in diff.blocks[1].segments] == [("del", "-590"), ("ins", "-690")]
    assert diff.summary == "1 word added, 1 removed in 1 paragraph"


def test_long_versions_are_compared_from_their_beginning(monkeypatch) -> None:
    from commonroom.previews import compare

    monkeypatch.setattr(compare, "MAX_PARAGRAPHS", 3)
    old = ["One.", "Two old.", "Three.", "Four old."]
    diff = diff_paragraphs(old, ["One.", "Two new.", "Three.", "Four new."])
    assert diff.cut
    assert kinds(diff) == ["same", "changed", "same"]


def test_a_long_paragraph_with_common_words_is_redlined() -> None:
    text = " ".join(["the", "ward", "and", "the", "beds", "of", "the", "trust"] * 100)
    diff = diff_paragraphs([text], [text + " today"])
    assert kinds(diff) == ["changed"]
    assert diff.summary == "1 word added, 0 removed in 1 paragraph"


def test_identical_versions_have_no_changes() -> None:
    diff = diff_paragraphs(["One.", "Two  words."], ["One.", "Two words."])
    assert not diff.changed
    assert diff.summary == "No changes"
    assert kinds(diff) == ["same", "same"]


def test_paragraphs_come_from_the_anchored_blocks() -> None:
    html = (
        '<h1 id="p-1">Plan &amp; budget</h1><ul><li id="p-2"><p id="p-3">Nested</p></li></ul>'
        '<p id="p-4">one<br>two <img src="{{file:a.png}}"></p><p id="p-5"> </p>'
    )
    assert paragraphs_from_html(html) == ["Plan & budget", "Nested", "one two"]


def test_cells_compared_one_by_one() -> None:
    old = {"Beds": {(1, 1): "Ward", (2, 1): "Ash", (2, 2): "24"}, "Old": {(1, 1): "x"}}
    new = {"Beds": {(1, 1): "Ward", (2, 1): "Ash", (2, 2): "26", (3, 28): "new"}, "New": {}}
    diff = diff_sheets(old, new)
    beds = diff.sheets[0]
    assert [(c.ref, c.old, c.new, c.kind) for c in beds.cells] == [
        ("B2", "24", "26", "changed"),
        ("AB3", "", "new", "added"),
    ]
    assert [(s.name, s.kind) for s in diff.sheets[1:]] == [("Old", "removed"), ("New", "added")]
    assert diff.summary == "2 cells changed in 1 sheet; 1 sheet added; 1 sheet removed"
    assert diff_sheets(old, old).summary == "No changes"


def test_sheets_come_from_the_preview_tables() -> None:
    html = (
        '<section class="cr-preview-sheet"><h2>Beds &lt;2&gt;</h2><table><thead><tr><th></th>'
        '<th scope="col">A</th></tr></thead><tbody><tr id="p-1"><th scope="row">1</th>'
        '<td>Ward</td><td></td><td>3</td></tr><tr id="p-2"><th scope="row">2</th></tr>'
        '<tr id="p-3"><th scope="row">3</th><td>x</td></tr></tbody></table></section>'
    )
    assert sheets_from_html(html) == {"Beds <2>": {(1, 1): "Ward", (1, 3): "3", (3, 1): "x"}}


# --- through the real upload and preview path ---------------------------------------------------


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def word(paragraphs: list[str]) -> bytes:
    doc = WordDocument()
    for text in paragraphs:
        doc.add_paragraph(text)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def workbook(sheets: dict[str, list[list[Any]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def two_versions(team: Any, capture: Any, make_upload: Any, name: str, v1: bytes, v2: bytes) -> Any:
    with capture(execute=True):
        doc = upload_document(team.workspace, team.manager, name=name, content=v1)
    access = document_access(user=team.editor, workspace_id=team.workspace.pk, document_id=doc.pk)
    with capture(execute=True):
        version_upload(actor=team.editor, doc_access=access, uploaded=make_upload(name, v2))
    return doc


def page(team: Any, doc: Any) -> str:
    return reverse("version_compare", args=[team.workspace.pk, doc.pk])


def api_url(team: Any, doc: Any) -> str:
    return f"/api/v1/workspaces/{team.workspace.pk}/documents/{doc.pk}/compare"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_docx_versions_compared_for_every_member(
    team, django_capture_on_commit_callbacks, make_upload, role
) -> None:
    doc = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "minutes.docx",
        word(["Minutes of the meeting.", "Beds are full today.", "Actions follow."]),
        word(["Minutes of the meeting.", "Beds are nearly full today.", "Actions follow."]),
    )
    response = client_for(team.by_role[role]).get(page(team, doc))
    assert response.status_code == 200
    body = response.content.decode()
    assert "1 word added, 0 removed in 1 paragraph" in body
    assert "<ins>nearly</ins>" in body
    assert "Version 1 against version 2" in body


@pytest.mark.django_db
def test_markdown_side_by_side_with_a_move(team, django_capture_on_commit_callbacks, make_upload):
    doc = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "plan.md",
        b"# Plan\n\nFirst we wash.\n\nThen we dry.\n\nAt last we fold.\n",
        b"# Plan\n\nThen we dry.\n\nAt last we fold.\n\nFirst we wash.\n\nA new step.\n",
    )
    body = client_for(team.viewer).get(page(team, doc) + "?a=1&b=2&view=side").content.decode()
    assert "3 words added, 0 removed in 1 paragraph; 1 paragraph moved" in body
    assert "cr-compare-side__row cr-compare--moved_to" in body
    assert "<ins>A new step.</ins>" in body


@pytest.mark.django_db
def test_document_text_is_escaped(team, django_capture_on_commit_callbacks, make_upload) -> None:
    doc = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "notes.txt",
        b"Hello.\n",
        b"Hello.\n\n<script>alert(1)</script> & <b>bold</b>\n",
    )
    body = client_for(team.viewer).get(page(team, doc)).content.decode()
    assert "<script>alert" not in body and "<b>bold" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in body


@pytest.mark.django_db
def test_xlsx_cells_compared(team, django_capture_on_commit_callbacks, make_upload) -> None:
    doc = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "beds.xlsx",
        workbook({"Beds": [["Ward", "Beds"], ["Ash", 24], ["Elm", 10]], "Old": [["x"]]}),
        workbook({"Beds": [["Ward", "Beds"], ["Ash", 26], ["Elm", 10, "note"]], "New": [["y"]]}),
    )
    body = client_for(team.viewer).get(page(team, doc)).content.decode()
    assert "2 cells changed in 1 sheet; 1 sheet added; 1 sheet removed" in body
    assert '<th scope="row">B2</th><td><del>24</del></td><td><ins>26</ins></td>' in body
    data = client_for(team.viewer).get(api_url(team, doc)).json()
    assert data["kind"] == "sheets"
    cells = data["sheets"][0]["cells"]
    assert {"ref": "C3", "old": "", "new": "note"} in cells


@pytest.mark.django_db
def test_waiting_for_previews_offers_downloads(team, make_upload) -> None:
    doc = upload_document(team.workspace, team.manager, name="a.txt", content=b"One")
    access = document_access(user=team.editor, workspace_id=team.workspace.pk, document_id=doc.pk)
    version_upload(actor=team.editor, doc_access=access, uploaded=make_upload("a.txt", b"Two"))
    body = client_for(team.viewer).get(page(team, doc)).content.decode()
    assert WAITING in body
    assert reverse("version_download", args=[team.workspace.pk, doc.pk, 2]) in body


@pytest.mark.django_db
def test_one_version_has_nothing_to_compare(team) -> None:
    doc = upload_document(team.workspace, team.manager, name="a.txt", content=b"One")
    body = client_for(team.viewer).get(page(team, doc)).content.decode()
    assert "nothing to compare it with yet" in body
    data = client_for(team.viewer).get(api_url(team, doc)).json()
    assert (data["status"], data["a"], data["b"]) == ("single", 1, 1)


@pytest.mark.django_db
def test_outsiders_and_forged_numbers_get_404(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    doc = two_versions(
        team, django_capture_on_commit_callbacks, make_upload, "a.txt", b"One", b"Two"
    )
    assert client_for(team.outsider).get(page(team, doc)).status_code == 404
    assert client_for(team.outsider).get(api_url(team, doc)).status_code == 404
    viewer = client_for(team.viewer)
    for query in ("?a=1&b=3", "?a=0&b=2", "?a=x&b=2", "?a=1&b=99999999999999999999"):
        assert viewer.get(page(team, doc) + query).status_code == 404, query
        assert viewer.get(api_url(team, doc) + query).status_code == 404, query
    anonymous = Client().get(page(team, doc))
    assert anonymous.status_code == 302


@pytest.mark.django_db
def test_comparing_is_audited_and_linked_from_the_document(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    doc = two_versions(
        team, django_capture_on_commit_callbacks, make_upload, "a.txt", b"One", b"One two"
    )
    viewer = client_for(team.viewer)
    detail = viewer.get(reverse("document_detail", args=[team.workspace.pk, doc.pk]))
    assert page(team, doc) + "?a=1&amp;b=2" in detail.content.decode()
    viewer.get(page(team, doc))
    event = AuditEvent.objects.filter(action=Action.PREVIEW_VIEWED, actor_id=team.viewer.pk).latest(
        "seq"
    )
    assert event.data["compared"] == [1, 2]


@pytest.mark.django_db
def test_the_api_returns_summary_and_blocks(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    doc = two_versions(
        team, django_capture_on_commit_callbacks, make_upload, "a.txt", b"One two.", b"One three."
    )
    data = client_for(team.viewer).get(api_url(team, doc) + "?a=1&b=2").json()
    assert data["status"] == "ready"
    assert data["summary"] == "1 word added, 1 removed in 1 paragraph"
    assert data["blocks"] == [
        {
            "kind": "changed",
            "move": 0,
            "segments": [
                {"op": "same", "text": "One"},
                {"op": "del", "text": "two."},
                {"op": "ins", "text": "three."},
            ],
        }
    ]
    same = client_for(team.viewer).get(api_url(team, doc) + "?a=2&b=2").json()
    assert same["summary"] == "No changes"
