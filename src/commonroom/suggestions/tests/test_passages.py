"""Finding a preview's passage in its file and applying suggestions to the file
(suggestions/passages.py), for .docx, .txt and .md, with the preview made by the real
converters. No database."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import pytest

from commonroom.office import wordedit
from commonroom.office.package import OfficeFileError
from commonroom.office.tests.samples import docx_with, p, r
from commonroom.previews.blocks import Block, blocks_in
from commonroom.previews.convert import converter_for
from commonroom.suggestions import passages
from commonroom.suggestions.passages import Edit, PassageError, Place, usable_text
from commonroom.suggestions.tests.factories import docx_bytes


def preview(fmt: str, data: bytes) -> list[Block]:
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / f"file.{fmt}"
        source.write_bytes(data)
        return blocks_in(converter_for(fmt)(source, Path(work)).html)


def find(
    fmt: str, data: bytes, quote: str, kind: str = "replace", text: str = "x", nth: int = 1
) -> tuple[Place, Edit]:
    """The place of the ``nth`` block holding ``quote`` and the edit suggesting ``text``."""
    blocks = preview(fmt, data)
    holding = [b for b in blocks if quote in usable_text(b)]
    block = holding[nth - 1]
    shown = usable_text(block)
    start = shown.index(quote)
    end = start + len(quote)
    place = passages.locate(fmt, data, blocks, block, start, end, kind=kind, text=text)
    return place, Edit(kind, place, shown, start, end, text)


def apply_one(fmt: str, data: bytes, quote: str, kind: str, text: str, nth: int = 1) -> bytes:
    _place, edit = find(fmt, data, quote, kind, text, nth)
    return passages.apply(fmt, data, [edit])


# --- Word ---------------------------------------------------------------------------------------


def test_a_word_passage_is_found_around_line_breaks_the_preview_does_not_show() -> None:
    data = docx_with(p(r("First line"), "<w:r><w:br/></w:r>", r("second line")))
    place, _edit = find("docx", data, "linesecond", text="line, second")
    assert place == Place("First line\nsecond line", 1, 6, 17)
    result = apply_one("docx", data, "linesecond", "replace", "line, second")
    assert wordedit.paragraphs(result) == ["First line, second line"]


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("replace", "Wednesday", ["We met on Wednesday at noon."]),
        ("delete", "", ["We met on  at noon."]),
        ("insert_before", "late ", ["We met on late Tuesday at noon."]),
        ("insert_after", " evening", ["We met on Tuesday evening at noon."]),
        ("new_paragraph", "Apologies: none.", ["We met on Tuesday at noon.", "Apologies: none."]),
    ],
)
def test_each_kind_of_suggestion_in_a_word_file(kind: str, text: str, expected: list[str]) -> None:
    data = docx_bytes("We met on Tuesday at noon.")
    assert wordedit.paragraphs(apply_one("docx", data, "Tuesday", kind, text)) == expected


def test_the_nth_paragraph_with_a_text_is_the_nth_block_with_it() -> None:
    data = docx_bytes("Agreed.", "Something else.", "Agreed.")
    place, _edit = find("docx", data, "Agreed", nth=2)
    assert (place.paragraph, place.occurrence) == ("Agreed.", 2)
    result = apply_one("docx", data, "Agreed", "replace", "Noted", nth=2)
    assert wordedit.paragraphs(result) == ["Agreed.", "Something else.", "Noted."]


def test_a_paragraph_the_preview_shows_with_a_tracked_change_is_refused() -> None:
    data = docx_with(
        p(
            r("Kept "),
            '<w:del w:id="1" w:author="A" w:date="2024-01-01T00:00:00Z"><w:r><w:delText>gone'
            "</w:delText></w:r></w:del>",
            r(" text"),
        )
    )
    with pytest.raises(PassageError, match="could not be found in the file"):
        find("docx", data, "Kept")


def test_a_text_box_paragraph_the_preview_shows_makes_its_text_ambiguous() -> None:
    box = (
        '<w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml"><v:textbox>'
        "<w:txbxContent><w:p><w:r><w:t>Same</w:t></w:r></w:p></w:txbxContent></v:textbox>"
        "</v:shape></w:pict></w:r>"
    )
    data = docx_with(p(box), p(r("Same")))
    assert [b.text for b in preview("docx", data)].count("Same") == 2  # the preview shows both
    assert wordedit.paragraphs(data).count("Same") == 1  # the engine addresses one
    with pytest.raises(PassageError, match="different number of times"):
        find("docx", data, "Same", nth=2)


def test_a_passage_over_a_field_is_refused_by_the_engine_when_it_is_located() -> None:
    data = docx_with(
        p(
            r("Page "),
            '<w:r><w:fldChar w:fldCharType="begin"/></w:r>',
            '<w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>',
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r>',
            r("7"),
            '<w:r><w:fldChar w:fldCharType="end"/></w:r>',
            r(" of the report"),
        )
    )
    with pytest.raises(OfficeFileError, match="field"):
        find("docx", data, "Page 7 of")


def test_the_word_files_own_comments_listed_under_it_are_not_its_text() -> None:
    from commonroom.office.tests.samples import sample_docx

    data = sample_docx()
    blocks = preview("docx", data)
    aside = next(b for b in blocks if b.aside and "Is this right?" in b.text)
    with pytest.raises(PassageError, match="own comments"):
        passages.locate("docx", data, blocks, aside, 0, 3, kind="replace", text="x")


# --- Text files ---------------------------------------------------------------------------------


def test_text_keeps_its_line_ends_and_byte_order_mark() -> None:
    data = b"\xef\xbb\xbfFirst line\r\nsecond line\r\n\r\nNext para\r\n"
    result = apply_one("txt", data, "linesecond", "replace", "line and second")
    assert result == b"\xef\xbb\xbfFirst line and second line\r\n\r\nNext para\r\n"
    result = apply_one("txt", data, "Next", "replace", "Last")
    assert result == b"\xef\xbb\xbfFirst line\r\nsecond line\r\n\r\nLast para\r\n"
    result = apply_one("txt", data, "Next", "new_paragraph", "Added\nhere")
    assert result == (
        b"\xef\xbb\xbfFirst line\r\nsecond line\r\n\r\nNext para\r\n\r\nAdded\r\nhere\r\n"
    )


def test_text_paragraph_n_is_block_n_whatever_its_text() -> None:
    data = b"Same\n\nOther\n\nSame\n"
    place, _edit = find("txt", data, "Same", nth=2)
    assert (place.paragraph, place.occurrence) == ("Same", 2)
    assert apply_one("txt", data, "Same", "insert_after", "!", nth=2) == b"Same\n\nOther\n\nSame!\n"


def test_text_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(PassageError, match="UTF-8"):
        find("txt", "Caf\xe9 au lait\n".encode("cp1252"), "au")


def test_new_text_with_an_empty_line_in_a_text_file_is_refused() -> None:
    with pytest.raises(PassageError, match="more than one paragraph"):
        find("txt", b"One\n\nTwo\n", "One", text="One\n\nand a half")


def test_the_text_splitting_is_the_converters() -> None:
    """The paragraphs read here are the preview's blocks, one for one, on awkward text."""
    data = b"\n\n  lead\n\n\n\nx  \n \t \ny\n\n\n"
    blocks = preview("txt", data)
    assert [b.text for b in blocks] == [
        t.replace("\n", "") for t in passages.paragraphs("txt", data)
    ]


# --- Markdown -----------------------------------------------------------------------------------

MARKDOWN = (
    b"# Title *x*\n\nPara with `code` and **bold** text\nsoft break &amp; more\n\n"
    b"- a\n  - b\n- cherry\n\n> quote\n\nSee [NHS](https://www.nhs.uk/) now\n\n"
    b"```\ncode\n```\n\n| h | k |\n|---|---|\n| 1 | 2 |\n"
)


def test_markdown_blocks_are_the_converters_anchored_blocks() -> None:
    """One source range per anchored block of the rendered preview, in its order."""
    blocks = preview("md", MARKDOWN)
    sources = passages.paragraphs("md", MARKDOWN)
    assert len(blocks) == len(sources)
    assert sources[0] == "# Title *x*"
    assert sources[1].startswith("Para with")
    assert sources[-1] == "| h | k |\n|---|---|\n| 1 | 2 |"


def test_markdown_replacement_across_emphasis_drops_the_marks_it_covers() -> None:
    result = apply_one("md", MARKDOWN, "and bold", "replace", "or plain")
    assert b"Para with `code` or plain text\n" in result


def test_markdown_new_text_is_escaped_so_it_reads_as_typed() -> None:
    result = apply_one("md", MARKDOWN, "text", "replace", "*not* [a link] & <b>")
    assert b"\\*not\\* \\[a link\\] \\& \\<b>" in result
    shown = [b.text for b in preview("md", result)]
    assert any("*not* [a link] & <b>" in t for t in shown)


def test_a_markdown_passage_over_an_entity_is_its_source_entity() -> None:
    result = apply_one("md", MARKDOWN, "& more", "replace", "and more")
    assert b"soft break and more\n" in result


def test_a_markdown_passage_that_cannot_be_found_in_its_source_is_refused() -> None:
    with pytest.raises(PassageError, match="cannot be matched"):
        find("md", MARKDOWN, "NHS now", text="the NHS")


def test_a_new_markdown_paragraph_after_a_list_item_ends_up_after_it() -> None:
    result = apply_one("md", MARKDOWN, "cherry", "new_paragraph", "After the list")
    texts = [usable_text(b).strip() for b in preview("md", result)]
    assert texts[texts.index("cherry") + 1] == "After the list"


# --- Several at once ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["docx", "txt"])
def test_two_suggestions_on_the_same_words_are_refused(fmt: str) -> None:
    data = docx_bytes("We met on Tuesday.") if fmt == "docx" else b"We met on Tuesday.\n"
    _p1, first = find(fmt, data, "met on", text="gathered on")
    _p2, second = find(fmt, data, "on Tuesday", text="on Monday")
    with pytest.raises((PassageError, OfficeFileError), match="same words"):
        passages.apply(fmt, data, [first, second])


def test_several_suggestions_in_one_text_paragraph_apply_together() -> None:
    data = b"We met on Tuesday at noon.\n"
    _p1, first = find("txt", data, "Tuesday", text="Monday")
    _p2, second = find("txt", data, "noon", text="one o'clock")
    _p3, third = find("txt", data, "We", kind="insert_before", text="Today ")
    result = passages.apply("txt", data, [first, second, third])
    assert result == b"Today We met on Monday at one o'clock.\n"


def test_a_paragraph_no_longer_in_the_file_is_not_changed() -> None:
    _place, edit = find("docx", docx_bytes("Old text."), "Old", text="New")
    with pytest.raises(OfficeFileError, match="no longer in the file"):
        passages.apply("docx", docx_bytes("Other text."), [edit])


def test_the_word_result_is_a_readable_zip_with_the_same_members() -> None:
    data = docx_bytes("Alpha beta.")
    result = apply_one("docx", data, "beta", "replace", "gamma")
    assert (
        zipfile.ZipFile(io.BytesIO(result)).namelist()
        == zipfile.ZipFile(io.BytesIO(data)).namelist()
    )
