"""Golden tests of the converters, on files the tests build: what a reader sees, and that
nothing in a document can run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from commonroom.previews.convert import format_for
from commonroom.previews.converters import docx, text
from commonroom.previews.converters.base import Refused
from commonroom.previews.html import document_html
from commonroom.previews.tests import files


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_docx_keeps_the_structure_and_makes_links_safe(tmp_path: Path, out: Path) -> None:
    result = docx.convert(files.rich_docx(tmp_path / "minutes.docx"), out)
    html = result.html
    assert result.kind == "html"
    assert '<h1 id="p-1">Board minutes</h1>' in html
    assert '<h2 id="p-2">Attendance</h2>' in html
    assert "<strong>Tuesday</strong>" in html and "<em>budget</em>" in html
    assert re.search(
        r'<ul><li id="p-\d+">First item</li><li id="p-\d+">Second item</li></ul>', html
    )
    assert "<table" in html and ">Ward</p></td>" in html and ">24</p></td>" in html
    assert '<a href="https://www.nhs.uk/" rel="noopener noreferrer">the NHS website</a>' in html
    # The javascript: link keeps its words and loses its target.
    assert "javascript" not in html.lower()
    assert '<a rel="noopener noreferrer">click here</a>' in html
    # The image is a file of the preview, referred to by a placeholder.
    assert [f.name for f in result.files] == ["image1.png"]
    assert result.files[0].content_type == "image/png"
    assert '<img alt="Picture 1 in the document" src="{{file:image1.png}}">' in html
    assert (out / "image1.png").read_bytes().startswith(b"\x89PNG")
    # Anchors run 1, 2, 3... once each.
    anchors = [int(n) for n in re.findall(r'id="p-(\d+)"', html)]
    assert anchors == list(range(1, len(anchors) + 1))
    assert "Board minutes" in result.text and "Tuesday" in result.text


def test_docx_shows_tracked_changes_and_word_comments(tmp_path: Path, out: Path) -> None:
    result = docx.convert(files.tracked_docx(tmp_path / "budget.docx"), out)
    assert "The budget is <del>four</del><ins>five</ins> million." in result.html
    assert "<ins>A new sentence.</ins>" in result.html
    assert result.notes[0].startswith("This document has 2 tracked insertions and 1 deletion")
    assert "2 Word comments" in result.notes[1]
    assert "Comments in the Word document" in result.html
    assert "Priya Shah" in result.html and "Check the agency figure." in result.html
    # A comment's text is text, never markup.
    assert "&lt;script&gt;x&lt;/script&gt;" in result.html and "<script" not in result.html


def test_a_plain_document_has_no_change_notes(tmp_path: Path, out: Path) -> None:
    result = docx.convert(files.rich_docx(tmp_path / "plain.docx"), out)
    assert result.notes == []


def test_text_is_shown_as_paragraphs(tmp_path: Path, out: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_bytes(b"First line\nsecond line\n\n<b>Not bold</b> & more\n")
    result = text.convert_txt(source, out)
    assert result.html == (
        '<p id="p-1" class="cr-preview-text">First line<br>second line</p>'
        '<p id="p-2" class="cr-preview-text">&lt;b&gt;Not bold&lt;/b&gt; &amp; more</p>'
    )


def test_text_that_is_not_utf8_is_read_as_windows_text(tmp_path: Path, out: Path) -> None:
    source = tmp_path / "old.txt"
    source.write_bytes("Café £5".encode("cp1252"))
    result = text.convert_txt(source, out)
    assert "Café £5" in result.html
    assert result.notes == ["The file is not UTF-8 text; it is shown as Windows text."]


def test_long_text_is_cut_with_a_note(tmp_path: Path, out: Path, monkeypatch) -> None:
    monkeypatch.setattr(text, "MAX_TEXT_BYTES", 100)
    source = tmp_path / "long.txt"
    source.write_bytes(b"word " * 100)
    result = text.convert_txt(source, out)
    assert len(result.text) == 100
    assert "only its beginning is shown" in result.notes[0]


def test_markdown_renders_and_html_in_it_is_inert(tmp_path: Path, out: Path) -> None:
    source = tmp_path / "readme.md"
    source.write_text(
        "# Plan\n\n**Bold** and [link](https://example.org) and [bad](javascript:alert(1))\n\n"
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        "| Ward | Beds |\n|---|---|\n| Ash | 24 |\n"
    )
    html = text.convert_md(source, out).html
    assert '<h1 id="p-1">Plan</h1>' in html
    assert "<strong>Bold</strong>" in html
    assert '<a href="https://example.org" rel="noopener noreferrer">link</a>' in html
    assert (
        "<script" not in html
        and "<img" not in html
        and "onerror=" not in html.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    )
    assert "javascript:" not in html.replace("[bad](javascript:alert(1))", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<div class="cr-preview-table"><table id="p-' in html and "<td>Ash</td>" in html


def test_csv_is_a_table_of_its_first_rows_with_a_note(tmp_path: Path, out: Path) -> None:
    source = tmp_path / "beds.csv"
    source.write_text("Ward,Beds\n" + "".join(f"W{i},{i}\n" for i in range(1, 700)) + 'x,"<b>"\n')
    result = text.convert_csv(source, out)
    assert result.kind == "table"
    assert "<thead><tr><th>Ward</th><th>Beds</th></tr></thead>" in result.html
    assert result.html.count("<tr>") == 500  # the header and 499 rows
    assert result.notes == ["Showing the first 500 of 701 rows."]
    assert "<b>" not in result.html


def test_semicolon_csv_is_understood(tmp_path: Path, out: Path) -> None:
    source = tmp_path / "beds.csv"
    source.write_text("Ward;Beds\nAsh;24\n")
    assert "<td>Ash</td><td>24</td>" in text.convert_csv(source, out).html


def test_a_long_cell_wraps_in_a_readable_column_and_short_ones_do_not(
    tmp_path: Path, out: Path
) -> None:
    """Sheets read like a spreadsheet on a phone: short cells stay on one line (CSS), a long one
    is marked to wrap within a bounded width; the text stays escaped either way."""
    long = "Agency spend is down because two wards recruited <b>nurses</b> in October"
    source = tmp_path / "notes.csv"
    source.write_text(f'Ward,Note\nAsh,"{long}"\n')
    html = text.convert_csv(source, out).html
    assert "<td>Ash</td>" in html
    assert (
        '<td><span class="cr-cell-long">Agency spend is down because two wards recruited '
        "&lt;b&gt;nurses&lt;/b&gt; in October</span></td>"
    ) in html


def test_word_title_subtitle_and_quote_styles_keep_their_meaning(tmp_path: Path, out: Path) -> None:
    from docx import Document

    doc = Document()
    doc.add_paragraph("Discharge pathway review", style="Title")
    doc.add_paragraph("Draft for the board", style="Subtitle")
    doc.add_paragraph("Patients first.", style="Quote")
    doc.add_paragraph("Body text.")
    doc.save(str(tmp_path / "p.docx"))
    html = docx.convert(tmp_path / "p.docx", out).html
    assert '<h1 id="p-1">Discharge pathway review</h1>' in html
    assert '<h2 id="p-2">Draft for the board</h2>' in html
    assert "<blockquote" in html and "Patients first.</p></blockquote>" in html
    assert '<p id="p-4">Body text.</p>' in html


def test_markdown_makes_bare_addresses_links(tmp_path: Path, out: Path) -> None:
    source = tmp_path / "log.md"
    source.write_text("See https://www.england.nhs.uk/winter/ and www.nhs.uk today.\n")
    html = text.convert_md(source, out).html
    assert (
        '<a href="https://www.england.nhs.uk/winter/" rel="noopener noreferrer">'
        "https://www.england.nhs.uk/winter/</a>"
    ) in html
    assert '<a href="http://www.nhs.uk" rel="noopener noreferrer">www.nhs.uk</a>' in html


def test_the_sanitiser_keeps_only_a_documents_markup() -> None:
    html = document_html(
        '<p onclick="x()" style="color:red">a<img src="https://evil.example/t.png">'
        '<img src="{{file:image1.png}}"></p><iframe src="x"></iframe><style>p{}</style>'
        '<td colspan="2">x</td><table><tr><td colspan="2" rowspan="9x">c</td></tr></table>'
    )
    assert html == (
        '<p id="p-1">a<img><img src="{{file:image1.png}}"></p>x'
        '<table id="p-2"><tbody><tr><td colspan="2">c</td></tr></tbody></table>'
    )


@pytest.mark.parametrize(
    ("content_type", "name", "fmt"),
    [
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "a.docx",
            "docx",
        ),
        ("text/plain", "notes.md", "md"),
        ("text/plain", "notes.TXT", "txt"),
        ("text/csv", "beds", "csv"),
        ("application/pdf", "scan", "pdf"),
        ("image/jpeg", "photo.JPG", "image"),
        ("application/zip", "a.zip", None),
        ("application/octet-stream", "a.exe", None),
    ],
)
def test_format_for(content_type: str, name: str, fmt: str | None) -> None:
    assert format_for(content_type, name) == fmt


def test_a_file_that_is_not_a_word_document_is_refused(tmp_path: Path, out: Path) -> None:
    source = tmp_path / "fake.docx"
    source.write_bytes(b"not a zip at all")
    with pytest.raises(Refused, match="damaged"):
        docx.convert(source, out)
