"""Compare versions: the redline on built texts (moves, moves with edits, bounded on long
documents), slides and cells; documents, presentations, workbooks and CSV files through the real
upload and preview path, escaping, the page for each role (404 for outsiders and forged numbers),
and the API."""

from __future__ import annotations

import io
import random
import re
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from docx import Document as WordDocument
from openpyxl import Workbook

from commonroom.audit.models import Action, AuditEvent
from commonroom.demo.seed import minutes_docx
from commonroom.documents.selectors import document_access
from commonroom.documents.services import version_upload
from commonroom.previews import compare
from commonroom.previews.compare import (
    MAX_MOVE_PAIRS,
    PLAIN,
    Block,
    Paragraph,
    Segment,
    Slide,
    Style,
    blocks_from_html,
    diff_paragraphs,
    diff_sheets,
    diff_slides,
    diff_tables,
    rows_cut,
    sheets_from_html,
    slides_from_html,
    table_from_html,
)
from commonroom.previews.converters import docx as docx_converter
from commonroom.previews.converters import pptx as pptx_converter
from commonroom.previews.converters import text as text_converter
from commonroom.previews.converters import xlsx as xlsx_converter
from commonroom.previews.html import document_html
from commonroom.previews.selectors import NOT_COMPARABLE, WAITING
from commonroom.previews.tests.files import png_bytes, pptx_bytes
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


def segments(block: Any) -> list[tuple[str, str]]:
    return [(s.op, s.text) for s in block.segments]


def test_a_paragraph_moved_and_edited() -> None:
    moving = "The ward has twenty beds and four nurses on each shift."
    old = ["Introduction.", moving, "Budget follows.", "Close."]
    new = ["Introduction.", "Budget follows.", "Close.", moving.replace("twenty", "twenty-two")]
    diff = diff_paragraphs(old, new)
    assert kinds(diff) == ["same", "moved_from", "same", "same", "moved_to"]
    moved_from, moved_to = diff.blocks[1], diff.blocks[4]
    assert moved_from.move == moved_to.move == 1
    assert segments(moved_from) == [("del", moving)]
    assert segments(moved_to) == [
        ("same", "The ward has"),
        ("del", "twenty"),
        ("ins", "twenty-two"),
        ("same", "beds and four nurses on each shift."),
    ]
    assert moved_to.edited and not moved_from.edited
    assert " ".join(s.text for s in moved_to.new_side) == " ".join(
        s.text for s in moved_to.segments
    )
    assert (diff.words_added, diff.words_removed, diff.paragraphs_moved) == (1, 1, 1)
    assert diff.summary == "1 word added, 1 removed in 1 paragraph; 1 paragraph moved"


def test_a_paragraph_moved_up_and_edited_among_exact_moves() -> None:
    old = ["Apples grow on trees.", "Bananas are yellow.", "Cherries are red and sweet in June."]
    new = ["Cherries are red and sweet in July.", "Bananas are yellow.", "Apples grow on trees."]
    diff = diff_paragraphs(old, new)
    moved = [(b.kind, b.move, b.edited) for b in diff.blocks if b.move]
    assert sorted(moved) == [
        ("moved_from", 1, False),
        ("moved_from", 2, False),
        ("moved_to", 1, False),
        ("moved_to", 2, True),
    ]
    edited = next(b for b in diff.blocks if b.edited)
    assert ("del", "June.") in segments(edited) and ("ins", "July.") in segments(edited)
    assert diff.summary == "1 word added, 1 removed in 1 paragraph; 2 paragraphs moved"


def test_a_paragraph_elsewhere_that_is_not_alike_enough_is_not_a_move() -> None:
    # Half the words in common: alike enough in place (SIMILAR), not out of place (SIMILAR_MOVED).
    old = ["Keep.", "Ward seven will close for repairs during the spring months.", "Stay."]
    new = ["Keep.", "Stay.", "Ward nine will open for visitors during the summer evenings."]
    diff = diff_paragraphs(old, new)
    assert kinds(diff) == ["same", "deleted", "same", "inserted"]
    assert diff.paragraphs_moved == 0


def test_an_edited_paragraph_in_its_own_stretch_is_changed_in_place() -> None:
    old = ["Start.", "Completely unrelated words.", "Budget is four million pounds.", "End."]
    new = ["Start.", "Budget is five million pounds.", "A brand new closing note.", "End."]
    diff = diff_paragraphs(old, new)
    assert kinds(diff) == ["same", "deleted", "changed", "inserted", "same"]
    assert diff.paragraphs_moved == 0


def test_moves_among_thousands_of_paragraphs_are_bounded(monkeypatch) -> None:
    """3,000 paragraphs shuffled and each edited: looking for moves compares at most
    MAX_MOVE_PAIRS pairs (not 3,000 x 3,000) and still finds the moves it can afford."""
    rng = random.Random(7)
    vocabulary = [f"word{n}" for n in range(20_000)]
    # Forty words a paragraph: longer than SHORT, so the time is the words' and the moves'.
    old = [" ".join(rng.choice(vocabulary) for _ in range(40)) for _ in range(3_000)]
    new = [p.replace(p.split()[5], "edited") for p in old]
    rng.shuffle(new)
    compared = 0
    real = compare._moved_changes

    def counting(a: str, b: str) -> Any:
        nonlocal compared
        compared += 1
        return real(a, b)

    monkeypatch.setattr(compare, "_moved_changes", counting)
    started = time.process_time()  # CPU time: other work on the machine does not count
    diff = diff_paragraphs(old, new)
    elapsed = time.process_time() - started
    assert compared <= MAX_MOVE_PAIRS
    assert diff.paragraphs_moved >= MAX_MOVE_PAIRS // 2
    assert all(b.edited for b in diff.blocks if b.kind == "moved_to")
    assert elapsed < 5, elapsed  # about half a CPU second here; comparing all 3,000 x 3,000
    # pairs would take most of an hour


def test_past_the_limit_the_rest_stay_removed_and_added(monkeypatch) -> None:
    monkeypatch.setattr(compare, "MAX_MOVE_PAIRS", 1)
    old = ["Head.", "one two three four five six seven", "Tail.", "alpha beta gamma delta epsilon"]
    new = ["alpha beta gamma delta omega", "Head.", "Tail.", "one two three four five six eight"]
    diff = diff_paragraphs(old, new)
    assert diff.paragraphs_moved == 1
    # The one pair afforded (the first removed paragraph's best candidate) is the move; the
    # other pair, as alike, stays one paragraph removed and one added.
    assert kinds(diff) == ["inserted", "same", "moved_from", "same", "deleted", "moved_to"]
    assert diff.blocks[0].segments == [Segment("ins", "alpha beta gamma delta omega")]


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


def test_both_versions_cut_compare_the_same_stretch(monkeypatch) -> None:
    """Cut by words, the older keeps two paragraphs and the newer three: the newer's third is
    not said to be inserted, it was cut from the older too."""
    monkeypatch.setattr(compare, "MAX_WORDS", 5)
    diff = diff_paragraphs(
        ["one two", "three four", "five six"], ["one two", "three", "four five", "six"]
    )
    assert diff.cut
    assert kinds(diff) == ["same", "changed"]
    assert diff_paragraphs(["one two"], ["one two", "three four"]).cut is False


def test_long_decks_are_compared_from_their_first_slides(monkeypatch) -> None:
    """Slides are kept whole: past MAX_PARAGRAPHS in all, the slide that would pass it and those
    after are left out."""
    monkeypatch.setattr(compare, "MAX_PARAGRAPHS", 4)
    old = [Slide(1, "One", ["a"]), Slide(2, "Two", ["b"]), Slide(3, "Three", ["c"])]
    new = [Slide(1, "One", ["a"]), Slide(2, "Two", ["b c"]), Slide(3, "Three", ["d"])]
    diff = diff_slides(old, new)
    assert diff.cut
    assert [(s.kind, s.old_number, s.new_number) for s in diff.slides] == [
        ("same", 1, 1),
        ("changed", 2, 2),
    ]
    assert diff_slides(old[:2], new[:2]).cut is False


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
    assert [p.text for p in blocks_from_html(html)] == ["Plan & budget", "Nested", "one two"]


# --- what each paragraph is: headings, lists, table cells, quotes, code -------------------------


def styles(paragraphs: list[Paragraph]) -> list[tuple[str, str, int, str, str]]:
    return [(p.text, p.style.name, p.style.level, p.style.row, p.style.column) for p in paragraphs]


def minutes_blocks(tmp_path: Path, *, amended: bool) -> list[Paragraph]:
    """The paragraphs the compare reads from the real converter's preview of the demo minutes."""
    source = tmp_path / f"minutes-{amended}.docx"
    source.write_bytes(minutes_docx(amended=amended))
    return blocks_from_html(docx_converter.convert(source, tmp_path).html)


def test_block_styles_from_the_minutes_preview(tmp_path) -> None:
    found = minutes_blocks(tmp_path, amended=True)
    # The paragraphs in the document's order, each once (a dict by text could not tell).
    assert [p.text for p in found[:6]] == [
        "Weekly budget meeting — minutes",
        "Date: 24 November 2026. Chair: Priya Shah (board secretary).",
        "1. Attendance",
        "Present: Priya Shah, Tom Evans, Aisha Okafor (non-executive), Sam Taylor.",
        "2. Month 7 position",
        "The trust reported a year-to-date deficit of £2.6m against a planned £1.9m, after the "
        "agency staffing correction.",
    ]
    by_text = {p.text: p.style for p in found}
    assert by_text["Weekly budget meeting — minutes"] == Style("heading", level=1)
    assert by_text["2. Month 7 position"] == Style("heading", level=2)
    assert by_text["Date: 24 November 2026. Chair: Priya Shah (board secretary)."] == PLAIN
    assert by_text["Sam to report community nursing vacancies."] == Style("list", level=1)
    table = styles([p for p in found if p.style.name == "cell"])
    assert table == [
        ("Division", "cell", 0, "", ""),
        ("Plan (£k)", "cell", 0, "Division", ""),
        ("Actual (£k)", "cell", 0, "Division", ""),
        ("Medicine", "cell", 0, "", "Division"),
        ("-850", "cell", 0, "Medicine", "Plan (£k)"),
        ("-1,120", "cell", 0, "Medicine", "Actual (£k)"),
        ("Surgery", "cell", 0, "", "Division"),
        ("-600", "cell", 0, "Surgery", "Plan (£k)"),
        ("-790", "cell", 0, "Surgery", "Actual (£k)"),
        ("Community", "cell", 0, "", "Division"),
        ("-450", "cell", 0, "Community", "Plan (£k)"),
        ("-690", "cell", 0, "Community", "Actual (£k)"),
    ]
    assert by_text["-1,120"].label == "Table · Medicine · Actual (£k)"
    assert by_text["Division"].label == "Table"
    assert by_text["2. Month 7 position"].label == ""


def test_styles_carried_to_the_blocks_without_changing_the_matching(tmp_path) -> None:
    old = minutes_blocks(tmp_path, amended=False)
    new = minutes_blocks(tmp_path, amended=True)
    diff = diff_paragraphs(old, new)
    plain = diff_paragraphs([p.text for p in old], [p.text for p in new])
    assert diff.summary == plain.summary == "20 words added, 4 removed in 4 paragraphs"
    assert [(b.kind, b.segments) for b in diff.blocks] == [
        (b.kind, b.segments) for b in plain.blocks
    ]
    assert {b.style for b in plain.blocks} == {PLAIN}
    medicine = next(b for b in diff.blocks if segments(b) == [("del", "-1,020"), ("ins", "-1,120")])
    assert (medicine.kind, medicine.style.label) == ("changed", "Table · Medicine · Actual (£k)")
    assert medicine.as_dict()["context"] == {"row": "Medicine", "column": "Actual (£k)"}
    added = diff.blocks[-1]
    assert (added.kind, added.tag, added.style) == ("inserted", "li", Style("list", level=1))
    heading = next(b for b in diff.blocks if b.segments[0].text == "3. Actions")
    assert (heading.kind, heading.tag, heading.side_tags) == ("same", "h4", ("h4", "p"))
    assert [(r.kind, len(r.blocks)) for r in diff.runs] == [
        ("", 1), ("", 1), ("", 1), ("", 1), ("", 1), ("", 1), ("table", 12), ("", 1), ("list", 3)
    ]  # fmt: skip


def test_a_removed_block_keeps_its_own_style_and_a_kept_one_takes_the_newer() -> None:
    old = [Paragraph("Budget", Style("heading", level=2)), Paragraph("Gone item", Style("list"))]
    new = [Paragraph("Budget", PLAIN), Paragraph("A new paragraph entirely.", PLAIN)]
    diff = diff_paragraphs(old, new)
    assert [(b.kind, b.style.name) for b in diff.blocks] == [
        ("same", "paragraph"),  # the newer version's: it is no longer a heading
        ("deleted", "list"),
        ("inserted", "paragraph"),
    ]
    assert diff.blocks[1].as_dict() == {
        "kind": "deleted",
        "move": 0,
        "segments": [{"op": "del", "text": "Gone item"}],
        "style": "list",
        "level": 0,
        "ordered": False,
    }
    assert "style" not in diff.blocks[0].as_dict()  # a plain paragraph has no optional field
    side = Block("deleted", [Segment("del", "Budget")], style=Style("heading", level=1))
    assert side.side_tags == ("h3", "p")  # a heading only in the older version is one there
    changed = Block("changed", [Segment("same", "Budget")], style=Style("heading", level=5))
    assert changed.side_tags == ("p", "h6")  # the outline stops at h6


def test_block_styles_from_markdown_lists_quotes_code_and_a_table(tmp_path) -> None:
    source = tmp_path / "plan.md"
    source.write_text(
        "# Plan\n\n- top\n  - inner\n- next\n\n1. first\n2. second\n\n> quoted words\n\n"
        "```\nmake check\n```\n\n| Ward | Beds |\n|---|---|\n| Ash | 24 |\n\nplain\n"
    )
    found = blocks_from_html(text_converter.convert_md(source, tmp_path).html)
    assert [(p.text, p.style) for p in found] == [
        ("Plan", Style("heading", level=1)),
        ("top", Style("list", level=1)),
        ("inner", Style("list", level=2)),
        ("next", Style("list", level=1)),
        ("first", Style("list", level=1, ordered=True)),
        ("second", Style("list", level=1, ordered=True)),
        ("quoted words", Style("quote")),
        ("make check", Style("code")),
        ("Ward Beds Ash 24", Style("table")),  # a Markdown table is one anchored block
        ("plain", PLAIN),
    ]
    diff = diff_paragraphs(found, found)
    assert [(r.kind, r.ordered, len(r.blocks)) for r in diff.runs] == [
        ("", False, 1), ("list", False, 3), ("list", True, 2), ("", False, 1), ("", False, 1),
        ("", False, 1), ("", False, 1),
    ]  # fmt: skip
    assert [b.tag for b in diff.blocks] == ["h3", "li", "li", "li", "li", "li", "blockquote"] + [
        "p"
    ] * 3


def test_merged_cells_name_their_rows_and_columns_and_huge_spans_are_cheap() -> None:
    html = (
        '<table id="p-1"><tr><th rowspan="2"><p id="p-2">Ward</p></th>'
        '<th colspan="2"><p id="p-3">Beds</p></th></tr>'
        '<tr><td><p id="p-4">open</p></td><td><p id="p-5">shut</p></td></tr>'
        '<tr><td><p id="p-6">Ash</p></td><td><p id="p-7">3</p></td><td><p id="p-8">4</p></td>'
        '<td><p id="p-9">Ash</p></td></tr></table>'
    )
    assert styles(blocks_from_html(html)) == [
        ("Ward", "cell", 0, "", ""),
        ("Beds", "cell", 0, "Ward", ""),
        ("open", "cell", 0, "Ward", "Beds"),  # row 2's first column is row 1's merged cell
        ("shut", "cell", 0, "Ward", "Beds"),
        ("Ash", "cell", 0, "", "Ward"),
        ("3", "cell", 0, "Ash", "Beds"),
        ("4", "cell", 0, "Ash", "Beds"),
        ("Ash", "cell", 0, "", ""),  # its row is named by its own text: nothing more to say
    ]
    long_name = "Ward " * 40
    huge = (
        f'<table><tr><td rowspan="9999" colspan="9999"><p id="p-1">{long_name}</p></td>'
        '<td><p id="p-2">x</p></td></tr>'
        + '<tr><td><p id="p-3">y</p></td></tr>' * 2000
        + "</table>"
    )
    started = time.monotonic()
    found = blocks_from_html(huge)
    assert time.monotonic() - started < 2
    assert len(found) == 2002
    assert found[1].style.row == found[2].style.row == long_name[:79].rstrip() + "…"
    assert len(found[1].style.label) < 100


def test_cells_compared_one_by_one() -> None:
    old = {"Beds": {(1, 1): "Ward", (2, 1): "Ash", (2, 2): "24"}, "Old": {(1, 1): "x"}}
    new = {"Beds": {(1, 1): "Ward", (2, 1): "Ash", (2, 2): "26", (3, 28): "new"}, "New": {}}
    diff = diff_sheets(old, new)
    beds = diff.sheets[0]
    assert [(c.ref, c.old, c.new, c.kind) for c in beds.cells] == [("B2", "24", "26", "changed")]
    # Row 3 is new: one row added (its one cell in column AB), not a cell "changed".
    assert [(r.kind, r.number, r.cells) for r in beds.rows] == [("added", 3, [("AB3", "new")])]
    assert [(s.name, s.kind) for s in diff.sheets[1:]] == [("Old", "removed"), ("New", "added")]
    assert diff.summary == (
        "1 row added; 1 cell changed in 1 sheet; 1 sheet added; 1 sheet removed"
    )
    assert diff_sheets(old, old).summary == "No changes"


BUDGET = [
    ["Item", "Q1", "Q2"],
    ["Agency staff", "1200", "1100"],
    ["Beds", "400", "420"],
    ["Catering", "90", "95"],
    ["Drugs", "300", "310"],
    ["Total", "1990", "1925"],
]


def cells_of(rows: list[list[str]]) -> dict[tuple[int, int], str]:
    """{(row, column): text} of the non-empty cells, as the previews give them."""
    return {
        (r, c): text
        for r, row in enumerate(rows, start=1)
        for c, text in enumerate(row, start=1)
        if text
    }


def test_a_row_inserted_near_the_top_is_one_row_added() -> None:
    new = [BUDGET[0], ["Audit", "50", "55"], *BUDGET[1:]]
    diff = diff_sheets({"Budget": cells_of(BUDGET)}, {"Budget": cells_of(new)})
    sheet = diff.sheets[0]
    assert sheet.cells == [] and sheet.cell_count == 0
    assert [(r.kind, r.number, r.cells) for r in sheet.rows] == [
        ("added", 2, [("A2", "Audit"), ("B2", "50"), ("C2", "55")])
    ]
    assert (diff.rows_added, diff.rows_removed) == (1, 0)
    assert diff.summary == "1 row added in 1 sheet"
    api = diff.sheet_dicts()[0]
    assert (api["cells"], api["rows_added"], api["rows_removed"]) == ([], 1, 0)
    assert api["rows"] == [
        {
            "kind": "added",
            "row": 2,
            "cells": [
                {"ref": "A2", "text": "Audit"},
                {"ref": "B2", "text": "50"},
                {"ref": "C2", "text": "55"},
            ],
        }
    ]


def test_a_row_removed_is_named_by_its_old_number() -> None:
    new = [row for row in BUDGET if row[0] != "Beds"]
    diff = diff_sheets({"Budget": cells_of(BUDGET)}, {"Budget": cells_of(new)})
    sheet = diff.sheets[0]
    assert sheet.cells == []
    assert [(r.kind, r.number, r.cells) for r in sheet.rows] == [
        ("removed", 3, [("A3", "Beds"), ("B3", "400"), ("C3", "420")])
    ]
    assert diff.summary == "1 row removed in 1 sheet"


def test_a_row_inserted_and_a_cell_changed_below_it() -> None:
    new = [BUDGET[0], ["Audit", "50", "55"], *BUDGET[1:]]
    new[4] = ["Catering", "90", "99"]  # was row 4, now row 5
    diff = diff_sheets({"Budget": cells_of(BUDGET)}, {"Budget": cells_of(new)})
    sheet = diff.sheets[0]
    assert [(c.ref, c.old_ref, c.old, c.new) for c in sheet.cells] == [("C5", "C4", "95", "99")]
    assert [(r.kind, r.number) for r in sheet.rows] == [("added", 2)]
    assert diff.summary == "1 row added; 1 cell changed in 1 sheet"
    assert diff.sheet_dicts()[0]["cells"] == [
        {"ref": "C5", "old": "95", "new": "99", "old_ref": "C4"}
    ]


def test_a_row_added_just_above_a_changed_total() -> None:
    """The row added and the total changed are one replaced stretch: the total is paired with
    the total (the cells alike), not with the row added above it."""
    new = [*BUDGET[:-1], ["Estates", "10", "20"], ["Total", "2000", "1945"]]
    diff = diff_sheets({"Budget": cells_of(BUDGET)}, {"Budget": cells_of(new)})
    sheet = diff.sheets[0]
    assert [(r.kind, r.number) for r in sheet.rows] == [("added", 6)]
    assert [(c.ref, c.old_ref, c.old, c.new) for c in sheet.cells] == [
        ("B7", "B6", "1990", "2000"),
        ("C7", "C6", "1925", "1945"),
    ]
    assert diff.summary == "1 row added; 2 cells changed in 1 sheet"
    # Removed the other way: the total keeps its pair, the row is removed.
    back = diff_sheets({"Budget": cells_of(new)}, {"Budget": cells_of(BUDGET)})
    assert [(r.kind, r.number) for r in back.sheets[0].rows] == [("removed", 6)]
    assert back.summary == "1 row removed; 2 cells changed in 1 sheet"


def test_replaced_rows_of_equal_number_are_paired_in_place() -> None:
    new = [BUDGET[0], ["Agency staff", "1000", "1100"], ["Beds", "400", "0"], *BUDGET[3:]]
    diff = diff_sheets({"Budget": cells_of(BUDGET)}, {"Budget": cells_of(new)})
    assert [(c.ref, c.old_ref) for c in diff.sheets[0].cells] == [("B2", "B2"), ("C3", "C3")]
    assert diff.sheets[0].cells[0].as_dict() == {
        "ref": "B2",
        "old": "1200",
        "new": "1000",
    }
    assert diff.sheets[0].rows == [] and diff.summary == "2 cells changed in 1 sheet"


def test_pairing_replaced_rows_is_bounded(monkeypatch) -> None:
    """Past MAX_ROW_PAIRS row pairs weighed, a replaced stretch is paired from its first row."""
    new = [*BUDGET[:-1], ["Estates", "10", "20"], ["Total", "2000", "1945"]]
    monkeypatch.setattr(compare, "MAX_ROW_PAIRS", 1)
    diff = diff_sheets({"Budget": cells_of(BUDGET)}, {"Budget": cells_of(new)})
    assert [(r.kind, r.number) for r in diff.sheets[0].rows] == [("added", 7)]
    assert [c.ref for c in diff.sheets[0].cells] == ["A6", "B6", "C6"]


def test_empty_rows_count_and_long_changes_are_cut(monkeypatch) -> None:
    new = [BUDGET[0], [], *BUDGET[1:]]
    diff = diff_sheets({"Budget": cells_of(BUDGET)}, {"Budget": cells_of(new)})
    assert [(r.kind, r.number, r.cells) for r in diff.sheets[0].rows] == [("added", 2, [])]
    monkeypatch.setattr(compare, "MAX_CELLS_SHOWN", 4)
    new = [BUDGET[0], ["Audit", "50", "55"], ["Estates", "10", "20"], *BUDGET[1:-1]]
    new.append(["Total", "2", "3"])
    diff = diff_sheets({"Budget": cells_of(BUDGET)}, {"Budget": cells_of(new)})
    sheet = diff.sheets[0]
    assert diff.cut and (sheet.rows_added, sheet.cell_count) == (2, 2)
    assert [r.number for r in sheet.rows] == [2]  # the second row (3 cells) no longer fits
    assert sheet.cells == []  # nor anything after it
    assert diff.summary == "2 rows added; 2 cells changed in 1 sheet"


def test_rows_past_a_preview_cut_are_not_said_added_or_removed(tmp_path) -> None:
    rows = [["Item", "Cost"]] + [[f"Item {n}", str(n)] for n in range(1, 300)]
    sheets = []
    for number, version in enumerate((rows, [rows[0], ["Audit", "50"], *rows[1:]])):
        source = tmp_path / f"budget-{number}.xlsx"
        source.write_bytes(workbook({"Budget 'FY'": version}))
        result = xlsx_converter.convert(source, tmp_path)
        assert rows_cut(result.notes) == {"Budget 'FY'"}
        sheets.append(sheets_from_html(result.html))
    # Row 200 of the older version is row 201 of the newer one, past its cut: not removed.
    old, new = sheets
    diff = diff_sheets(old, new, {"Budget 'FY'"}, {"Budget 'FY'"})
    assert [(r.kind, r.number) for r in diff.sheets[0].rows] == [("added", 2)]
    assert diff.summary == "1 row added in 1 sheet"
    # Without knowing of the cut, the last row shown would be "removed".
    assert diff_sheets(old, new).summary == "1 row added; 1 row removed in 1 sheet"
    assert rows_cut(["Showing the first 500 of 9,000 rows.", "The file is empty."]) == {""}
    assert rows_cut(["Showing the first 200 rows of 'Beds'; it has more."]) == {"Beds"}
    assert rows_cut(["Showing the first 50 of 80 columns of 'Beds'."]) == set()


def test_sheets_come_from_the_preview_tables() -> None:
    html = (
        '<section class="cr-preview-sheet"><h2>Beds &lt;2&gt;</h2><table><thead><tr><th></th>'
        '<th scope="col">A</th></tr></thead><tbody><tr id="p-1"><th scope="row">1</th>'
        '<td>Ward</td><td></td><td>3</td></tr><tr id="p-2"><th scope="row">2</th></tr>'
        '<tr id="p-3"><th scope="row">3</th><td>x</td></tr></tbody></table></section>'
    )
    assert sheets_from_html(html) == {"Beds <2>": {(1, 1): "Ward", (1, 3): "3", (3, 1): "x"}}


def slides_of(tmp_path: Path, deck: list[tuple[str, list[str], list[str]]]) -> list[Slide]:
    """The slides the compare reads from the real converter's preview of ``deck``."""
    source = tmp_path / f"deck-{len(list(tmp_path.iterdir()))}.pptx"
    source.write_bytes(pptx_bytes(deck))
    return slides_from_html(pptx_converter.convert(source, tmp_path).html)


def test_slides_come_from_the_preview_sections(tmp_path) -> None:
    found = slides_of(
        tmp_path,
        [("Winter <pressures>", ["Beds open: 40", "Staff"], ["Mention the plan"]), ("", [], [])],
    )
    assert [(s.number, s.title, s.body, s.notes) for s in found] == [
        (1, "Winter <pressures>", ["Beds open: 40", "Staff"], ["Mention the plan"]),
        (2, "", [], []),  # "This slide has no text." is the preview's note, not the slide's
    ]


def test_slides_compared_slide_by_slide(tmp_path) -> None:
    old = slides_of(
        tmp_path,
        [
            ("Winter pressures", ["Beds open: 40", "Staff are tired"], ["Mention the plan"]),
            ("Budget", ["Spend is four million pounds this year"], []),
            ("Retired", ["An old slide nobody needs"], []),
            ("Close", ["Questions?"], []),
        ],
    )
    new = slides_of(
        tmp_path,
        [
            ("Winter plans", ["Beds open: 42", "Staff are tired"], ["Mention the escalation plan"]),
            ("Close", ["Questions?"], []),
            ("Agency", ["Agency spend is down"], []),
            ("Budget", ["Spend is five million pounds this year"], []),
        ],
    )
    diff = diff_slides(old, new)
    assert [(s.kind, s.old_number, s.new_number) for s in diff.slides] == [
        ("changed", 1, 1),
        ("moved_from", 2, 4),
        ("removed", 3, 0),
        ("same", 4, 2),
        ("added", 0, 3),
        ("moved_to", 2, 4),
    ]
    first = diff.slides[0]
    assert [(s.op, s.text) for s in first.title] == [
        ("same", "Winter"),
        ("del", "pressures"),
        ("ins", "plans"),
    ]
    assert [b.kind for b in first.body.blocks] == ["changed", "same"]
    assert segments(first.body.blocks[0]) == [("same", "Beds open:"), ("del", "40"), ("ins", "42")]
    assert segments(first.notes.blocks[0]) == [
        ("same", "Mention the"),
        ("ins", "escalation"),
        ("same", "plan"),
    ]
    moved = diff.slides[5]
    assert moved.move == diff.slides[1].move == 1
    assert ("ins", "five") in segments(moved.body.blocks[0])
    assert [b.kind for b in diff.slides[2].body.blocks] == ["deleted"]
    assert diff.summary == (
        "4 words added, 3 removed in 2 slides; 1 slide added; 1 slide removed; 1 slide moved"
    )
    # Moves inside two slides' diffs get ids of their own on the page.
    assert first.body.anchor != moved.body.anchor
    assert diff_slides(old, old).summary == "No changes"


def test_a_reordered_bullet_is_a_paragraph_moved_on_its_slide() -> None:
    old = [Slide(1, "Plan", ["First wash.", "Then dry.", "Fold at last."])]
    new = [Slide(1, "Plan", ["Then dry.", "Fold at last.", "First wash."])]
    diff = diff_slides(old, new)
    assert [s.kind for s in diff.slides] == ["changed"]
    assert diff.summary == "1 paragraph moved"


def test_csv_cells_come_from_the_preview_table(tmp_path) -> None:
    source = tmp_path / "beds.csv"
    source.write_bytes(b"ward,beds\nAsh,24\nElm,\n")
    cells = table_from_html(text_converter.convert_csv(source, tmp_path).html)
    assert cells == {(1, 1): "ward", (1, 2): "beds", (2, 1): "Ash", (2, 2): "24", (3, 1): "Elm"}
    diff = diff_tables(cells, {**cells, (2, 2): "26", (3, 2): "10"})
    assert [(c.ref, c.old, c.new) for c in diff.sheets[0].cells] == [
        ("B2", "24", "26"),
        ("B3", "", "10"),
    ]
    assert diff.summary == "2 cells changed"
    assert diff_tables(cells, cells).summary == "No changes"


def csv_cells(tmp_path: Path, text: str) -> tuple[dict[tuple[int, int], str], list[str]]:
    """The cells the compare reads from the real converter's preview of ``text``, and its notes."""
    source = tmp_path / f"table-{len(list(tmp_path.iterdir()))}.csv"
    source.write_text(text)
    result = text_converter.convert_csv(source, tmp_path)
    return table_from_html(result.html), result.notes


def test_csv_rows_added_and_removed(tmp_path) -> None:
    lines = ["item,q1,q2", *(",".join(row) for row in BUDGET[1:])]
    old, _ = csv_cells(tmp_path, "\n".join(lines) + "\n")
    inserted, _ = csv_cells(tmp_path, "\n".join([lines[0], "Audit,50,55", *lines[1:]]) + "\n")
    diff = diff_tables(old, inserted)
    assert diff.sheets[0].cells == []
    assert [(r.kind, r.number, r.cells) for r in diff.sheets[0].rows] == [
        ("added", 2, [("A2", "Audit"), ("B2", "50"), ("C2", "55")])
    ]
    assert diff.summary == "1 row added"
    removed, _ = csv_cells(tmp_path, "\n".join(line for line in lines if "Beds" not in line))
    diff = diff_tables(old, removed)
    assert [(r.kind, r.number) for r in diff.sheets[0].rows] == [("removed", 3)]
    assert diff.summary == "1 row removed"
    changed_below, _ = csv_cells(
        tmp_path, "\n".join([lines[0], "Audit,50,55", *lines[1:]]).replace("Drugs,300", "Drugs,333")
    )
    diff = diff_tables(old, changed_below)
    assert [(c.ref, c.old_ref, c.old, c.new) for c in diff.sheets[0].cells] == [
        ("B6", "B5", "300", "333")
    ]
    assert diff.summary == "1 row added; 1 cell changed"


def test_csv_rows_past_the_preview_cut(tmp_path) -> None:
    lines = ["item,cost", *(f"Item {n},{n}" for n in range(1, 700))]
    old, old_notes = csv_cells(tmp_path, "\n".join(lines))
    new, new_notes = csv_cells(tmp_path, "\n".join([lines[0], "Audit,50", *lines[1:]]))
    assert rows_cut(old_notes) == rows_cut(new_notes) == {""}
    diff = diff_tables(old, new, old_cut=True, new_cut=True)
    assert diff.summary == "1 row added"
    assert diff_tables(old, new).summary == "1 row added; 1 row removed"


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
    assert 'id="compare-view"' in body
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
    assert 'id="compare-view"' not in body  # inline or side by side: words only
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


# --- moves with edits, presentations and CSV files on the page and in the API -------------------


@pytest.mark.django_db
def test_docx_paragraph_moved_and_edited_on_the_page(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    moving = "Agency spend fell by twelve percent over the winter months."
    doc = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "report.docx",
        word(["Report.", moving, "Beds are full.", "Actions follow."]),
        word(["Report.", "Beds are full.", "Actions follow.", moving.replace("twelve", "ten")]),
    )
    viewer = client_for(team.viewer)
    body = viewer.get(page(team, doc)).content.decode()
    assert "1 word added, 1 removed in 1 paragraph; 1 paragraph moved" in body
    assert 'id="moved_to-1"' in body and 'href="#moved_from-1"' in body
    assert "Moved here and edited</a> Agency spend fell by <del>twelve</del> <ins>ten</ins>" in body
    side = viewer.get(page(team, doc) + "?view=side").content.decode()
    assert "<del>twelve</del> <ins>ten</ins> percent" in side
    data = viewer.get(api_url(team, doc)).json()
    moved_to = next(b for b in data["blocks"] if b["kind"] == "moved_to")
    assert {"op": "ins", "text": "ten"} in moved_to["segments"]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_pptx_versions_compared_slide_by_slide(
    team, django_capture_on_commit_callbacks, make_upload, role
) -> None:
    doc = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "winter.pptx",
        pptx_bytes(
            [
                ("Winter pressures", ["Beds open: 40"], ["Mention the plan"]),
                ("Old slide", ["<script>alert(1)</script>"], []),
            ]
        ),
        pptx_bytes(
            [
                ("Winter pressures", ["Beds open: 42"], ["Mention the escalation plan"]),
                ("Staffing", ["Agency spend down"], []),
            ]
        ),
    )
    response = client_for(team.by_role[role]).get(page(team, doc))
    assert response.status_code == 200
    body = response.content.decode()
    assert "2 words added, 1 removed in 1 slide; 1 slide added; 1 slide removed" in body
    assert "Beds open: <del>40</del> <ins>42</ins>" in body
    assert "Mention the <ins>escalation</ins> plan" in body
    assert "Speaker notes" in body
    assert "Slide added" in body and "Slide removed" in body
    assert "Slide 2 of version 1: <del>Old slide</del>" in body
    assert "Slide 2: <ins>Staffing</ins>" in body
    assert "<script>alert" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert NOT_COMPARABLE not in body


@pytest.mark.django_db
def test_pptx_comparison_in_the_api_and_side_by_side(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    doc = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "deck.pptx",
        pptx_bytes([("Plan", ["Wash first"], []), ("Dry", ["Then dry"], []), ("End", [], [])]),
        pptx_bytes([("Dry", ["Then dry"], []), ("End", [], []), ("Plan", ["Wash first"], [])]),
    )
    viewer = client_for(team.viewer)
    data = viewer.get(api_url(team, doc)).json()
    assert (data["status"], data["kind"], data["summary"]) == ("ready", "slides", "1 slide moved")
    assert [(s["kind"], s["old_number"], s["new_number"]) for s in data["slides"]] == [
        ("moved_from", 1, 3),
        ("same", 2, 1),
        ("same", 3, 2),
        ("moved_to", 1, 3),
    ]
    assert data["slides"][3]["title"] == [{"op": "same", "text": "Plan"}]
    assert data["slides"][3]["blocks"][0]["segments"] == [{"op": "same", "text": "Wash first"}]
    side = viewer.get(page(team, doc) + "?view=side").content.decode()
    assert 'href="#slide-moved_to-1">Moved to slide 3</a>' in side
    assert 'Slide 3 <span class="cr-compare-slide__was">(slide 1 of version 1)</span>' in side
    assert 'id="slide-moved_to-1"' in side and "cr-compare-side__row cr-compare--same" in side


@pytest.mark.django_db
def test_csv_cells_compared(team, django_capture_on_commit_callbacks, make_upload) -> None:
    doc = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "beds.csv",
        b"ward,beds\nAsh,24\nElm,10\n",
        b"ward,beds\nAsh,26\nElm,10,<b>note</b>\n",
    )
    viewer = client_for(team.viewer)
    body = viewer.get(page(team, doc)).content.decode()
    assert "2 cells changed" in body
    assert '<th scope="row">B2</th><td><del>24</del></td><td><ins>26</ins></td>' in body
    assert "<ins>&lt;b&gt;note&lt;/b&gt;</ins>" in body
    data = viewer.get(api_url(team, doc)).json()
    assert (data["kind"], data["summary"]) == ("sheets", "2 cells changed")
    assert data["sheets"][0]["cells"] == [
        {"ref": "B2", "old": "24", "new": "26"},
        {"ref": "C3", "old": "", "new": "<b>note</b>"},
    ]


@pytest.mark.django_db
def test_xlsx_rows_added_on_the_page_and_in_the_api(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    v2: list[list[Any]] = [
        BUDGET[0],
        ["<b>Audit</b>", 50, 55],
        *BUDGET[1:-1],
        ["Total", "2040", "1980"],
    ]
    doc = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "budget.xlsx",
        workbook({"Budget": BUDGET}),
        workbook({"Budget": v2}),
    )
    viewer = client_for(team.viewer)
    body = viewer.get(page(team, doc)).content.decode()
    assert "1 row added; 2 cells changed in 1 sheet" in body
    assert '<strong class="nhsuk-tag nhsuk-tag--green">Row added</strong> Row 2' in body
    assert "<div><dt>A2</dt><dd><ins>&lt;b&gt;Audit&lt;/b&gt;</ins></dd></div>" in body
    assert "B7 <span" in body and "(B6 in version 1)</span></th><td><del>1990</del>" in body
    assert "Rows added and removed" in body and "Changed cells" in body
    data = viewer.get(api_url(team, doc)).json()
    assert data["summary"] == "1 row added; 2 cells changed in 1 sheet"
    sheet = data["sheets"][0]
    assert (sheet["rows_added"], sheet["rows_removed"], sheet["cell_count"]) == (1, 0, 2)
    assert sheet["rows"][0]["kind"] == "added" and sheet["rows"][0]["row"] == 2
    assert sheet["rows"][0]["cells"][0] == {"ref": "A2", "text": "<b>Audit</b>"}
    assert sheet["cells"][0] == {"ref": "B7", "old": "1990", "new": "2040", "old_ref": "B6"}


@pytest.mark.django_db
def test_csv_row_removed_on_the_page(team, django_capture_on_commit_callbacks, make_upload) -> None:
    doc = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "beds.csv",
        b"ward,beds\nAsh,24\nBirch,\nElm,10\n",
        b"ward,beds\nAsh,24\nElm,10\n",
    )
    viewer = client_for(team.viewer)
    body = viewer.get(page(team, doc)).content.decode()
    assert '<p class="nhsuk-body-l cr-compare__summary" role="status">1 row removed</p>' in body
    assert "Row removed</strong> Row 3 of version 1" in body
    assert "<div><dt>A3</dt><dd><del>Birch</del></dd></div>" in body
    assert "Changed cells" not in body and "<table" not in body.split("cr-compare-sheet")[1]
    data = viewer.get(api_url(team, doc)).json()
    assert data["sheets"][0]["rows"] == [
        {"kind": "removed", "row": 3, "cells": [{"ref": "A3", "text": "Birch"}]}
    ]


@pytest.mark.django_db
def test_csv_cut_by_its_preview_row_inserted_at_the_top(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    lines = ["item,cost", *(f"Item {n},{n}" for n in range(1, 700))]
    doc = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "long.csv",
        "\n".join(lines).encode(),
        "\n".join([lines[0], "Audit,50", *lines[1:]]).encode(),
    )
    data = client_for(team.viewer).get(api_url(team, doc)).json()
    assert data["summary"] == "1 row added"  # the row pushed past the cut is not "removed"
    assert "Only the cells the previews show are compared." in data["notes"]


@pytest.mark.django_db
def test_versions_of_different_kinds_or_without_text_are_refused_with_a_sentence(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    assert "PowerPoint (.pptx)" in NOT_COMPARABLE and "CSV (.csv)" in NOT_COMPARABLE
    with django_capture_on_commit_callbacks(execute=True):
        mixed = upload_document(
            team.workspace, team.manager, name="plan.pptx", content=pptx_bytes([("Plan", [], [])])
        )
    access = document_access(user=team.editor, workspace_id=team.workspace.pk, document_id=mixed.pk)
    with django_capture_on_commit_callbacks(execute=True):
        csv_file = make_upload("plan.csv", b"ward,beds\nAsh,24\n", "text/csv")
        version_upload(actor=team.editor, doc_access=access, uploaded=csv_file)
    pictures = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "a.png",
        png_bytes(),
        png_bytes((1, 2, 3)),
    )
    viewer = client_for(team.viewer)
    for doc in (mixed, pictures):
        response = viewer.get(page(team, doc))
        assert response.status_code == 200
        assert NOT_COMPARABLE in response.content.decode()
        assert viewer.get(api_url(team, doc)).json()["status"] == "unsupported"


def word_table(rows: list[list[str]]) -> bytes:
    doc = WordDocument()
    doc.add_heading("Beds", level=1)
    table = doc.add_table(rows=len(rows), cols=len(rows[0]))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_minutes_compared_keep_headings_lists_and_where_a_figure_stands(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    doc = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "minutes.docx",
        minutes_docx(amended=False),
        minutes_docx(amended=True),
    )
    viewer = client_for(team.viewer)
    body = viewer.get(page(team, doc)).content.decode()
    assert "20 words added, 4 removed in 4 paragraphs" in body
    # The document's h1 and h2 sit below the page's h1 and h2.
    assert '<h3 class="cr-compare--same cr-compare-style--heading' in body
    assert re.search(r'<h4 class="cr-compare--same [^"]*">2\. Month 7 position </h4>', body)
    assert re.search(
        r'<ul class="cr-compare-list">\s*<li class="cr-compare--same [^>]*>Tom to bring', body
    )
    assert re.search(r'<li class="cr-compare--inserted [^>]*><ins>Aisha asked', body)
    # The table is compared as a table: each cell's words in their cell.
    grid = re.search(
        r'<div class="cr-compare-grid" role="region" aria-label="Table, compared cell by cell" '
        r'tabindex="0"><table class="cr-compare-grid__table"><tbody>(.*?)</tbody>',
        body,
    )
    assert grid is not None
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", grid[1])]
    words = [[re.sub(r"<[^>]+>", "", cell).strip() for cell in row] for row in cells]
    assert words[0] == ["Division", "Plan (£k)", "Actual (£k)"]
    medicine = next(row for row, text in zip(cells, words, strict=True) if text[0] == "Medicine")
    assert medicine[2] == (
        '<p class="cr-compare--changed" data-change><del>-1,020</del> <ins>-1,120</ins> </p>'
    )
    assert "cr-compare__context" not in body
    side = viewer.get(page(team, doc) + "?view=side").content.decode()
    assert re.search(r'<h4 class="cr-compare-block [^"]*">2\. Month 7 position </h4>', side)
    assert side.count(">2. Month 7 position </h4>") == 1  # once in the outline, not per column
    assert re.search(
        r'<ul class="cr-compare-list"><li class="cr-compare-block [^>]*><ins>Aisha asked', side
    )
    assert side.count("Table · Medicine · Actual (£k)</span> ") == 2  # each column says where
    data = viewer.get(api_url(team, doc)).json()
    blocks = data["blocks"]
    assert {"style": "heading", "level": 2}.items() <= next(
        b for b in blocks if b["segments"][0]["text"] == "2. Month 7 position"
    ).items()
    changed_cell = next(b for b in blocks if {"op": "ins", "text": "-1,120"} in b["segments"])
    assert (changed_cell["kind"], changed_cell["style"], changed_cell["context"]) == (
        "changed",
        "cell",
        {"row": "Medicine", "column": "Actual (£k)"},
    )
    added = blocks[-1]
    assert (added["kind"], added["style"], added["level"], added["ordered"]) == (
        "inserted",
        "list",
        1,
        False,
    )
    paragraph = next(b for b in blocks if b["kind"] == "changed" and "style" not in b)
    assert paragraph["segments"][0]["text"].startswith("The trust reported")
    assert "context" not in paragraph


@pytest.mark.django_db
def test_a_table_cell_context_is_escaped(
    team, django_capture_on_commit_callbacks, make_upload
) -> None:
    doc = two_versions(
        team,
        django_capture_on_commit_callbacks,
        make_upload,
        "beds.docx",
        word_table([["Ward", "<b>Beds</b> & cots"], ["<script>x</script>", "1,020"]]),
        word_table([["Ward", "<b>Beds</b> & cots"], ["<script>x</script>", "1,120"]]),
    )
    label = (
        '<span class="cr-compare__context">Table · &lt;script&gt;x&lt;/script&gt; · '
        "&lt;b&gt;Beds&lt;/b&gt; &amp; cots</span> "
    )
    viewer = client_for(team.viewer)
    inline = viewer.get(page(team, doc)).content.decode()
    side = viewer.get(page(team, doc) + "?view=side").content.decode()
    for body in (inline, side):
        assert "<script>x" not in body and "<b>Beds" not in body
    # Inline, the table is a table: the cells' words escaped in their cells.
    assert '<td><p class="cr-compare--same">&lt;script&gt;x&lt;/script&gt; </p></td>' in inline
    assert "&lt;b&gt;Beds&lt;/b&gt; &amp; cots" in inline
    assert "<del>1,020</del> <ins>1,120</ins>" in inline
    assert label + "<del>1,020</del>" in side and label + "<ins>1,120</ins>" in side


def _table(*rows: list[str]) -> str:
    body = "".join(
        "<tr>" + "".join(f"<td><p>{cell}</p></td>" for cell in row) + "</tr>" for row in rows
    )
    return document_html(f"<p>Before.</p><table>{body}</table><p>After.</p>")


def test_a_document_s_table_is_compared_as_a_table() -> None:
    """Each paragraph of a table stands in its cell: a figure changed in place, a cell whose words
    were all replaced holding the removed and the added paragraph, a row added; the paragraphs
    around the table are not in it."""
    old = _table(["Division", "Plan"], ["Medicine", "-1,020"], ["Surgery", "Closed ward"])
    new = _table(
        ["Division", "Plan"],
        ["Medicine", "-1,120"],
        ["Surgery", "Opened again"],
        ["Community", "-450"],
    )
    diff = diff_paragraphs(blocks_from_html(old), blocks_from_html(new))
    runs = diff.runs
    assert [run.kind for run in runs] == ["", "table", ""]
    grid = runs[1].grid

    def shown(cell: list[Block]) -> list[tuple[str, str]]:
        return [(b.kind, " ".join(f"{s.op}:{s.text}" for s in b.segments)) for b in cell]

    assert [[shown(cell) for cell in row] for row in grid] == [
        [[("same", "same:Division")], [("same", "same:Plan")]],
        [[("same", "same:Medicine")], [("changed", "del:-1,020 ins:-1,120")]],
        [
            [("same", "same:Surgery")],
            [("deleted", "del:Closed ward"), ("inserted", "ins:Opened again")],
        ],
        [[("inserted", "ins:Community")], [("inserted", "ins:-450")]],
    ]
    # The API's blocks are what they were: places are for the page only.
    assert "at_row" not in str([b.as_dict() for b in diff.blocks])


def test_a_table_too_wide_to_show_as_a_table_is_shown_cell_by_cell_with_labels() -> None:
    wide = [f"c{n}" for n in range(compare.MAX_GRID_COLUMNS + 1)]
    diff = diff_paragraphs(
        blocks_from_html(_table(wide, ["x"] * len(wide))),
        blocks_from_html(_table(wide, ["y"] * len(wide))),
    )
    table = next(run for run in diff.runs if run.kind == "table")
    assert table.grid == [] and table.blocks[-1].style.label == "Table · c50"
