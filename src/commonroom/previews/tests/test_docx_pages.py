"""A Word document's pages in its preview: page breaks of every kind, page numbers, headers and
footers (first page and even pages, PAGE fields), on files built here; and that none of it moves
a block's anchor or changes its text, so comments anchored before stay where they were."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from commonroom.comments.passages import Place, follow
from commonroom.previews.blocks import blocks_in
from commonroom.previews.compare import blocks_from_html
from commonroom.previews.converters import docx, docx_pages
from commonroom.previews.converters.base import Refused
from commonroom.previews.tests.files import W_NS

R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CT = "application/vnd.openxmlformats-"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _p(text: str, inner: str = "", props: str = "", after: str = "") -> str:
    """A paragraph of ``text``, ``inner`` before it and ``after`` it in its run."""
    return (
        f"<w:p>{f'<w:pPr>{props}</w:pPr>' if props else ''}"
        f'<w:r>{inner}<w:t xml:space="preserve">{text}</w:t>{after}</w:r></w:p>'
    )


def _part(root: str, paragraphs: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:{root} xmlns:w="{W_NS}">{paragraphs}</w:{root}>'
    )


PAGE_FIELD = (
    '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> PAGE '
    '</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>99</w:t></w:r>'
    '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
)


def build(
    path: Path,
    body: str,
    *,
    parts: dict[str, str] | None = None,
    section: str = "",
    settings: str = "",
) -> Path:
    """A Word document with ``body``, ending with a section whose properties are ``section``,
    and header and footer ``parts`` (name -> XML) related as rIdH<name>."""
    parts = parts or {}
    rels = "".join(
        f'<Relationship Id="rId{name}" Type="{REL_TYPE}/{name.rstrip("0123456789")}" '
        f'Target="{name}.xml"/>'
        for name in parts
    )
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Default Extension="rels" ContentType="{CT}package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" '
            f'ContentType="{CT}officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL_TYPE}/officeDocument" Target="word/document.xml"/>'
            "</Relationships>"
        ),
        "word/_rels/document.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>'
        ),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<w:document xmlns:w="{W_NS}" xmlns:r="{R_NS}"><w:body>{body}'
            f"<w:sectPr>{section}</w:sectPr></w:body></w:document>"
        ),
        **{f"word/{name}.xml": xml for name, xml in parts.items()},
    }
    if settings:
        files["word/settings.xml"] = _part("settings", settings)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


def _ref(kind: str, name: str, variant: str = "default") -> str:
    return f'<w:{kind}Reference w:type="{variant}" r:id="rId{name}"/>'


MARKED = {
    "header1": _part("hdr", _p("OFFICIAL-SENSITIVE")),
    "footer1": _part(
        "ftr",
        '<w:p><w:r><w:t xml:space="preserve">Page </w:t></w:r>' + PAGE_FIELD + "<w:r>"
        '<w:t xml:space="preserve"> of </w:t></w:r><w:fldSimple w:instr=" NUMPAGES "><w:r>'
        "<w:t>1</w:t></w:r></w:fldSimple></w:p>",
    ),
}
MARKED_SECTION = _ref("header", "header1") + _ref("footer", "footer1")


def pages_of(html: str) -> list[str]:
    return re.findall(r'<div class="cr-preview-page-number">Page (\d+)</div>', html)


def test_headers_footers_and_page_breaks_of_every_kind(tmp_path: Path, out: Path) -> None:
    body = (
        '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Agenda</w:t></w:r></w:p>'
        + _p("Item one.")
        + _p("", '<w:br w:type="page"/>')  # a paragraph that is only a page break
        + _p("Item two.")
        + _p("Item three.", props="<w:pageBreakBefore/>")
        + _p("Item four.", "<w:lastRenderedPageBreak/>")  # Word's own, after text: a new page
    )
    result = docx.convert(
        build(tmp_path / "agenda.docx", body, parts=MARKED, section=MARKED_SECTION), out
    )
    html = result.html
    assert pages_of(html) == ["1", "2", "3", "4"]
    assert html.count("OFFICIAL-SENSITIVE") == 4
    for n in (1, 2, 3, 4):
        assert f"<div>Page {n} of 4</div>" in html
    # The order of a page: its number and header, its text, its footer.
    assert re.search(
        r"Page 2</div><div class=\"cr-preview-page-header\"><div>OFFICIAL-SENSITIVE</div></div>"
        r"</div><p id=\"p-\d+\">Item two.</p><div class=\"cr-preview-page-bottom\">"
        r"<div class=\"cr-preview-page-footer\"><div>Page 2 of 4</div>",
        html,
    )
    assert html.rstrip().endswith("<div>Page 4 of 4</div></div></div>")
    assert "Pages break where Word last laid the document out" in result.notes[-1]
    # The headers' words are searchable once; "Page 3" markers are not words of the document.
    assert result.text.count("OFFICIAL-SENSITIVE") == 1
    assert "Page 3" not in result.text and "crpage" not in html + result.text


def test_word_s_own_break_after_an_explicit_one_is_the_same_page(tmp_path: Path, out: Path) -> None:
    body = (
        _p("Before.", after='<w:br w:type="page"/>')  # text, then a break: the page after it
        + _p("After.", "<w:lastRenderedPageBreak/>")  # Word's mark of that same page
    )
    result = docx.convert(build(tmp_path / "a.docx", body), out)
    assert pages_of(result.html) == ["1", "2"]
    assert result.html.index("Page 2") > result.html.index("Before.")
    assert result.html.index("Page 2") < result.html.index("After.")


def test_sections_first_page_even_pages_and_numbering_restarting(tmp_path: Path, out: Path) -> None:
    parts = {
        "header1": _part("hdr", _p("Cover")),  # first page of section 1
        "header2": _part("hdr", _p("Odd header")),
        "header3": _part("hdr", _p("Even header")),
        "footer1": _part("ftr", "<w:p>" + PAGE_FIELD + "</w:p>"),
    }
    first_section = (
        _ref("header", "header1", "first")
        + _ref("header", "header2")
        + _ref("header", "header3", "even")
        + _ref("footer", "footer1")
        + "<w:titlePg/>"
    )
    body = (
        _p("Cover page.")
        + _p("Page two.", props="<w:pageBreakBefore/>")
        + f"<w:p><w:pPr><w:sectPr>{first_section}</w:sectPr></w:pPr>"
        "<w:r><w:t>End of part one.</w:t></w:r></w:p>" + _p("Appendix.")
    )
    # The second section restarts at 1 and inherits the headers (no title page of its own).
    result = docx.convert(
        build(
            tmp_path / "s.docx",
            body,
            parts=parts,
            section='<w:pgNumType w:start="1"/>',
            settings="<w:evenAndOddHeaders/>",
        ),
        out,
    )
    html = result.html
    assert pages_of(html) == ["1", "2", "1"]
    tops = re.findall(r'<div class="cr-preview-page-header"><div>([^<]+)</div>', html)
    assert tops == ["Cover", "Even header", "Odd header"]
    # No first-page or even-page footer: those pages have none, as Word prints them.
    footers = re.findall(r'<div class="cr-preview-page-footer"><div>([^<]+)</div>', html)
    assert footers == ["1"]
    assert "only its own page and section breaks are shown" in result.notes[-1]


def test_a_continuous_section_break_is_not_a_new_page(tmp_path: Path, out: Path) -> None:
    body = (
        '<w:p><w:pPr><w:sectPr><w:type w:val="continuous"/></w:sectPr></w:pPr>'
        "<w:r><w:t>One.</w:t></w:r></w:p>" + _p("Two.")
    )
    result = docx.convert(
        build(tmp_path / "c.docx", body, section='<w:type w:val="continuous"/>'), out
    )
    assert pages_of(result.html) == []  # one page, no header: nothing is added
    assert result.notes == []


def test_a_plain_document_is_unchanged(tmp_path: Path, out: Path) -> None:
    result = docx.convert(build(tmp_path / "p.docx", _p("One.") + _p("Two.")), out)
    assert result.html == '<p id="p-1">One.</p><p id="p-2">Two.</p>'


def _strip_pages(source: Path, target: Path) -> Path:
    """The same file without its page breaks and header and footer references."""
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(target, "w") as out:
        for info in z.infolist():
            data = z.read(info.filename)
            if info.filename == "word/document.xml":
                text = data.decode()
                for pattern in (
                    r'<w:br w:type="page"/>',
                    r"<w:pageBreakBefore/>",
                    r"<w:lastRenderedPageBreak/>",
                    r"<w:(header|footer)Reference [^>]*/>",
                ):
                    text = re.sub(pattern, "", text)
                data = text.encode()
            out.writestr(info.filename, data)
    return target


def test_pages_move_no_anchor_and_a_comment_s_passage_stays_put(tmp_path: Path, out: Path) -> None:
    """Blocks keep their ids and text (``previews.blocks``, comparison's paragraphs) with the
    pages shown; a comment anchored in a preview made without them is found in the same block
    at the same offsets, in lists, tables and quotes too."""
    item = '<w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr>'
    body = (
        _p("Introduction.")
        + f"<w:p>{item}<w:r><w:t>First point.</w:t></w:r></w:p>"
        + f'<w:p>{item}<w:r><w:br w:type="page"/><w:t>Second point.</w:t></w:r></w:p>'
        + "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Ward</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r>"
        "<w:lastRenderedPageBreak/><w:t>24</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
        + _p("Decision: approved.", props="<w:pageBreakBefore/>")
    )
    numbering = _part(
        "numbering",
        '<w:abstractNum w:abstractNumId="0"><w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/></w:lvl>'
        '</w:abstractNum><w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>',
    )
    source = build(tmp_path / "d.docx", body, parts=MARKED, section=MARKED_SECTION)
    with zipfile.ZipFile(source, "a") as z:
        z.writestr("word/numbering.xml", numbering)
    plain_out = tmp_path / "plain-out"
    plain_out.mkdir()
    plain = docx.convert(_strip_pages(source, tmp_path / "plain.docx"), plain_out)
    paged = docx.convert(source, out)
    assert pages_of(paged.html) == ["1", "2", "3", "4"]
    assert "<div" not in plain.html
    assert blocks_in(paged.html) == blocks_in(plain.html)
    assert blocks_from_html(paged.html) == blocks_from_html(plain.html)
    before = blocks_in(plain.html)
    decision = next(b for b in before if b.text == "Decision: approved.")
    outcome = follow(Place(decision.id, 10, 18), "approved", before, blocks_in(paged.html))
    assert outcome == ("found", Place(decision.id, 10, 18))
    # No page marker sits inside an anchored block (a table is one).
    assert not re.search(r"<table[^>]*>(?:(?!</table>).)*cr-preview-page", paged.html)


def test_page_markers_are_capped(tmp_path: Path, out: Path, monkeypatch) -> None:
    monkeypatch.setattr(docx_pages, "MAX_PAGES", 3)
    body = "".join(
        _p(f"Page {n}.", props="<w:pageBreakBefore/>" if n > 1 else "") for n in range(1, 7)
    )
    result = docx.convert(build(tmp_path / "long.docx", body), out)
    assert pages_of(result.html) == ["1", "2", "3"]
    assert "Pages are marked up to page 3." in result.notes
    assert all(f"Page {n}." in result.html for n in range(1, 7))


def test_a_header_with_entities_is_refused(tmp_path: Path, out: Path) -> None:
    header = (
        '<?xml version="1.0"?><!DOCTYPE hdr [<!ENTITY a "OFFICIAL">]>'
        f'<w:hdr xmlns:w="{W_NS}"><w:p><w:r><w:t>&a;</w:t></w:r></w:p></w:hdr>'
    )
    path = build(
        tmp_path / "e.docx",
        _p("Text."),
        parts={"header1": header},
        section=_ref("header", "header1"),
    )
    with pytest.raises(Refused, match="entity"):
        docx.convert(path, out)


def test_a_page_break_at_the_very_end_makes_an_empty_last_page(tmp_path: Path, out: Path) -> None:
    body = _p("Only text.", after='<w:br w:type="page"/>')
    result = docx.convert(
        build(tmp_path / "t.docx", body, parts=MARKED, section=MARKED_SECTION), out
    )
    html = result.html
    assert pages_of(html) == ["1", "2"]
    # Page 1's footer, then page 2's top, then (the page being empty) page 2's footer last.
    order = [html.index(t) for t in ("Page 1 of 2", ">Page 2<", "Page 2 of 2")]
    assert order == sorted(order) and html.index("Only text.") < order[0]


@pytest.mark.django_db
def test_a_comment_on_a_version_without_pages_is_found_on_the_one_with_them(
    team: Any, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    """A thread anchored in version 1 (no page breaks, no header) is found, through the comments'
    own following of passages, at the same block and offsets of version 2, which has them; its
    marker sits after its block on the page, among the pages' markup."""
    from commonroom.comments import services as comments
    from commonroom.comments.models import ThreadPassage
    from commonroom.documents.selectors import document_access
    from commonroom.documents.services import version_upload
    from commonroom.workspaces.tests.factories import upload_document

    body = (
        _p("Introduction.")
        + _p("Item two.", props="<w:pageBreakBefore/>")
        + _p("Decision: approved.", "<w:lastRenderedPageBreak/>")
    )
    paged = build(tmp_path / "paged.docx", body + _p("x"), parts=MARKED, section=MARKED_SECTION)
    plain = _strip_pages(paged, tmp_path / "plain.docx")

    def access(user: Any) -> Any:
        return document_access(user=user, workspace_id=team.workspace.pk, document_id=doc.pk)

    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(
            team.workspace, team.manager, name="decision.docx", content=plain.read_bytes()
        )
    thread = comments.comment_create(
        actor=team.commenter,
        doc_access=access(team.commenter),
        body="Approved by whom?",
        anchor_quote="approved",
        anchor_position={"block": "p-3", "start": 10, "end": 18},
    )
    with django_capture_on_commit_callbacks(execute=True):
        version_upload(
            actor=team.manager,
            doc_access=access(team.manager),
            uploaded=SimpleUploadedFile("decision.docx", paged.read_bytes()),
        )
    passage = ThreadPassage.objects.get(thread=thread, version__number=2)
    assert (passage.state, passage.block, passage.start, passage.end) == ("found", "p-3", 10, 18)
    reader = Client()
    reader.force_login(team.viewer)
    page = reader.get(reverse("document_detail", args=[team.workspace.pk, doc.pk])).content
    html = page.decode()
    assert html.count("cr-preview-page-number") == 3
    assert re.search(
        r'<p id="p-3">Decision: approved.</p><div class="cr-anchors"[^>]*data-anchor-for="p-3"',
        html,
    )


def test_a_paragraph_starting_a_page_already_begun_adds_none(tmp_path: Path, out: Path) -> None:
    """After a section break to a new page, or first in the document, a paragraph set to start a
    page is on that page; two explicit breaks in a row leave a blank page between them."""
    body = (
        _p("Cover.", props="<w:pageBreakBefore/>")
        + "<w:p><w:pPr><w:sectPr/></w:pPr><w:r><w:t>End of part one.</w:t></w:r></w:p>"
        + _p("Part two.", props="<w:pageBreakBefore/>")
        + _p("", '<w:br w:type="page"/><w:br w:type="page"/>')
        + _p("After a blank page.")
    )
    result = docx.convert(build(tmp_path / "b.docx", body), out)
    assert pages_of(result.html) == ["1", "2", "3", "4"]
    assert result.html.index(">Page 2<") < result.html.index("Part two.")
    assert re.search(r">Page 3</div></div><div [^>]*><div [^>]*>Page 4<", result.html)
