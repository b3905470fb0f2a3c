"""A preview block's text as a browser's ``textContent`` gives it (previews/blocks.py): what the
page's passage offsets count in. Checked on hand-written HTML, on what the converters make, and
against Chromium itself (skipped loudly without it; a failure when CI=true)."""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from commonroom.previews.blocks import blocks_in, code_points, utf16_length
from commonroom.previews.convert import converter_for
from commonroom.previews.tests import files


def test_text_is_every_piece_of_text_inside_as_written() -> None:
    (block,) = blocks_in('<p id="p-1">Two  spaces\tand <strong>bold</strong> &amp; more</p>')
    assert block.text == "Two  spaces\tand bold & more"
    assert block.own == block.text and not block.nested and not block.aside


def test_a_line_break_or_a_picture_adds_nothing() -> None:
    (block,) = blocks_in('<p id="p-1">one<br>two<img src="x" alt="chart">three</p>')
    assert block.text == "onetwothree"


def test_a_nested_block_is_in_its_parents_text_but_not_in_its_own() -> None:
    found = blocks_in('<ul><li id="p-1">Parent<ul><li id="p-2">Child</li></ul>after</li></ul>')
    parent, child = found
    assert (parent.text, parent.own, parent.nested) == ("ParentChildafter", "Parent", True)
    assert (child.text, child.own, child.nested) == ("Child", "Child", False)


def test_the_newline_right_after_pre_is_dropped_as_a_browser_does() -> None:
    (block,) = blocks_in('<pre id="p-1">\ncode\n</pre>')
    assert block.text == "code\n"
    (block,) = blocks_in('<pre id="p-1"><code>\ncode</code></pre>')
    assert block.text == "\ncode"


def test_the_word_files_own_comments_are_aside() -> None:
    found = blocks_in(
        '<p id="p-1">Body</p><section class="cr-preview-comments"><ol><li id="p-2">'
        '<p id="p-3">Ana</p></li></ol></section>'
    )
    assert [b.aside for b in found] == [False, True, True]


@pytest.mark.parametrize(
    ("text", "offset", "expected"),
    [
        ("abc", 0, 0),
        ("abc", 3, 3),
        ("a😀b", 1, 1),
        ("a😀b", 3, 2),  # the emoji is two UTF-16 code units, one code point
        ("a😀b", 4, 3),
        ("a😀b", 2, None),  # inside the emoji
        ("abc", 4, None),
        ("abc", -1, None),
    ],
)
def test_browser_offsets_become_code_points(text: str, offset: int, expected: int | None) -> None:
    assert code_points(text, offset) == expected


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_length("a😀b") == 4


def _converted(tmp: Path) -> list[str]:
    """What the .docx, .md and .txt converters make of files with breaks, tabs, lists, tables,
    code, entities and emoji."""
    import docx

    rich = files.rich_docx(tmp / "rich.docx")
    document = docx.Document()
    paragraph = document.add_paragraph("Tab\there  two ")
    paragraph.add_run("bold").bold = True
    paragraph.add_run().add_break()
    paragraph.add_run("next 😀 line")
    document.add_paragraph("Parent", style="List Bullet")
    out = io.BytesIO()
    document.save(out)
    (tmp / "a.docx").write_bytes(out.getvalue())
    (tmp / "a.md").write_text(
        "# Title *x*\n\nPara with `code` and **bold**\nsoft break &amp; <b>x</b>\n\n- a\n  - b\n"
        "- c\n\n1. one\n\n2. two\n\n> quote\n> more\n\n```py\n\ncode\n  here\n```\n\n    indented"
        "\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    (tmp / "a.txt").write_text("First line\nsecond  line\n\n\n  Indented\t tab\n \nLast 😀\r\n")
    made = []
    for source, fmt in ((rich, "docx"), (tmp / "a.docx", "docx"), (tmp / "a.md", "md")):
        made.append(converter_for(fmt)(source, tmp).html)
    made.append(converter_for("txt")(tmp / "a.txt", tmp).html)
    return made


def test_blocks_read_as_chromium_reads_them(tmp_path: Path) -> None:
    chromium = os.environ.get("COMMONROOM_CHROMIUM", "/usr/bin/chromium")
    if not shutil.which(chromium):
        message = f"Chromium not found at {chromium}: run `make browser`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    e2e = Path(__file__).resolve().parents[4] / "tests" / "e2e"
    sys.path.insert(0, str(e2e))
    try:
        from e2e_support import launch_chromium
        from playwright.sync_api import sync_playwright
    finally:
        sys.path.remove(str(e2e))
    htmls = _converted(tmp_path)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            for html in htmls:
                with tempfile.NamedTemporaryFile("w", suffix=".html", dir=tmp_path) as f:
                    f.write('<!doctype html><meta charset="utf-8"><div>' + html + "</div>")
                    f.flush()
                    page.goto(Path(f.name).as_uri())
                    seen = page.evaluate(
                        "() => Array.from(document.querySelectorAll('[id^=\"p-\"]'))"
                        ".map(e => [e.id, e.textContent, e.textContent.length])"
                    )
                mine = blocks_in(html)
                assert [(i, t) for i, t, _n in seen] == [(b.id, b.text) for b in mine]
                assert [n for _i, _t, n in seen] == [utf16_length(b.text) for b in mine]
        finally:
            browser.close()
