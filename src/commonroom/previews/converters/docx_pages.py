"""A Word document's pages as its author laid them out: where pages break, each page's number,
and the header and footer text printed at its top and bottom.

mammoth reads only the body, so this reads the rest from the parts already checked by
``previews/limits.py`` (``parse_xml``: no DTD, no entity): ``word/document.xml``'s sections
(``w:sectPr``: header and footer references, a different first page, where numbering restarts),
``word/settings.xml`` (different odd and even pages) and the ``word/header*.xml`` and
``word/footer*.xml`` parts those references name through ``word/_rels/document.xml.rels``.

Pages break at explicit page breaks (``<w:br w:type="page"/>``), paragraphs set to start a page
(``w:pageBreakBefore``), section breaks that start a new page, and where Word itself last broke
pages when it saved the file (``<w:lastRenderedPageBreak/>``): Word writes one at the start of
each page it laid out, so one that follows another break with no text between is the same page,
as is a paragraph set to start a page that is already at a page's top (an explicit break there
makes a blank page, as in Word).
Another program, or Word with other fonts or printer, may break pages elsewhere; the preview says
so.

The pages are placed between the body's top-level blocks, never inside one, so that the preview's
anchored blocks (``id="p-<n>"``) and their text stay exactly what they are without them: a page
that begins part-way through a paragraph or a table is marked after it; one that begins before
any of its text, before it. Each place is marked in the body by a paragraph of a random token
(:func:`mark_pages`) that mammoth passes through as ``<p>token</p>``, which :func:`place_pages`
then replaces with the pages' markup (``div`` elements only, which are never anchored), before
the HTML is anchored.
"""

from __future__ import annotations

import html
import posixpath
import re
import secrets
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from commonroom.previews.limits import parse_xml, read_member

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL = "http://schemas.openxmlformats.org/package/2006/relationships"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
MAX_PAGES = 2_000  # pages marked; a longer document is marked up to here, with a note
MAX_PARTS = 100  # header and footer parts read
MAX_LINES = 12  # lines of one header or footer
MAX_LINE = 300  # characters of one line
FIELDS = frozenset({"PAGE", "NUMPAGES", "SECTIONPAGES"})


def _w(tag: str) -> str:
    return f"{{{W}}}{tag}"


# A line of a header or footer: text and fields (PAGE, NUMPAGES, SECTIONPAGES) to fill in.
Line = list[str | tuple[str]]


@dataclass
class Section:
    # ("header"|"footer", "default"|"first"|"even") -> part: the section's own, then (after
    # read_pages) those it takes from the sections before it, as Word does
    refs: dict[tuple[str, str], str]
    title_page: bool = False
    start: int | None = None  # the number its first page is given, when numbering restarts
    continuous: bool = False  # begins on the same page as the section before


@dataclass
class Page:
    section: int
    number: int  # as printed on it
    first_of_section: bool


@dataclass
class Pages:
    """Where the pages begin (``starts[k]``: the top-level block index before which page k + 1
    begins; the body's length for a page after its last block) and what is at their top and
    bottom."""

    starts: list[int]
    pages: list[Page]
    sections: list[Section]
    parts: dict[str, list[Line]]
    even_and_odd: bool
    rendered: bool  # Word's own page breaks were found
    cut: bool = False  # more than MAX_PAGES
    per_section: Counter[int] = field(default_factory=Counter)  # pages in each section
    token: str = field(default_factory=lambda: "crpage" + secrets.token_hex(12))

    @property
    def shown(self) -> bool:
        """Whether there is anything to show: more than one page, or a header or footer."""
        return len(self.pages) > 1 or any(self.parts.values())


def _on(element: Any) -> bool:
    """A Word on/off property (``<w:b/>``, ``<w:b w:val="false"/>``) is on."""
    return element.get(_w("val"), "true").lower() not in {"0", "false", "off"}


def _line_text(line: Line, page: Page, total: int, in_section: int) -> str:
    values = {"PAGE": page.number, "NUMPAGES": total, "SECTIONPAGES": in_section}
    text = "".join(str(values[p[0]]) if isinstance(p, tuple) else p for p in line)
    return " ".join(text.split())[:MAX_LINE]


def _field_name(instruction: str) -> str | None:
    words = instruction.split()
    name = words[0].upper() if words else ""
    return name if name in FIELDS else None


def _paragraph_line(paragraph: Any) -> Line:
    """A header or footer paragraph's text, its PAGE-like fields kept as fields (the rest of a
    field shows the result Word saved)."""
    line: Line = []
    # Complex fields: begin, instruction, separate, saved result, end (nested ones counted).
    fields: list[dict[str, Any]] = []

    def hiding() -> bool:
        return any(f["name"] and f["result"] for f in fields)

    def walk(node: Any) -> None:
        for child in node:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            if tag == f"{{{MC}}}Fallback":
                continue  # the same content again, for older readers
            if tag == _w("fldSimple"):
                name = _field_name(child.get(_w("instr"), ""))
                if name and not hiding():
                    line.append((name,))
                else:
                    walk(child)
                continue
            if tag == _w("fldChar"):
                kind = child.get(_w("fldCharType"))
                if kind == "begin":
                    fields.append({"instr": "", "name": None, "result": False})
                elif kind == "separate" and fields:
                    fields[-1]["name"] = _field_name(fields[-1]["instr"])
                    fields[-1]["result"] = True
                elif kind == "end" and fields:
                    done = fields.pop()
                    name = done["name"] or _field_name(done["instr"])
                    if name and not hiding():
                        line.append((name,))
                continue
            if tag == _w("instrText"):
                if fields:
                    fields[-1]["instr"] += child.text or ""
                continue
            if tag == _w("t"):
                if not hiding() and not (fields and not fields[-1]["result"]):
                    line.append(child.text or "")
                continue
            if tag in {_w("tab"), _w("br"), _w("cr")} and not hiding():
                line.append(" ")
                continue
            if tag in {_w("del"), _w("moveFrom"), _w("delText")}:
                continue  # deleted text is not printed
            walk(child)

    walk(paragraph)
    return line


def _part_lines(root: Any) -> list[Line]:
    lines: list[Line] = []
    for paragraph in root.iter(_w("p")):
        if any(a.tag == f"{{{MC}}}Fallback" for a in paragraph.iterancestors()):
            continue
        if paragraph.find(f".//{_w('p')}") is not None:
            continue  # a paragraph holding a text box: its own paragraphs are read
        line = _paragraph_line(paragraph)
        if "".join(p if isinstance(p, str) else "0" for p in line).strip():
            lines.append(line)
        if len(lines) >= MAX_LINES:
            break
    return lines


def _relationships(archive: zipfile.ZipFile) -> dict[str, str]:
    name = "word/_rels/document.xml.rels"
    if name not in archive.namelist():
        return {}
    found = {}
    for rel in parse_xml(read_member(archive, name)).iter(f"{{{REL}}}Relationship"):
        target = rel.get("Target") or ""
        if rel.get("TargetMode") == "External" or not target:
            continue
        path = target.lstrip("/") if target.startswith("/") else "word/" + target
        found[rel.get("Id") or ""] = posixpath.normpath(path)
    return found


def _sections(root: Any, relationships: dict[str, str]) -> tuple[list[Section], list[Any]]:
    """Each section's properties in order, and the ``w:sectPr`` elements they come from."""
    elements = [
        e for e in root.iter(_w("sectPr")) if e.getparent() is not None and e.getparent().tag in
        {_w("pPr"), _w("body")}
    ]  # fmt: skip
    sections = []
    for element in elements:
        refs = {}
        for kind in ("header", "footer"):
            for ref in element.findall(_w(f"{kind}Reference")):
                part = relationships.get(ref.get(f"{{{R}}}id") or "")
                if part:
                    refs[(kind, ref.get(_w("type"), "default"))] = part
        title = element.find(_w("titlePg"))
        numbering = element.find(_w("pgNumType"))
        start = numbering.get(_w("start")) if numbering is not None else None
        kind_el = element.find(_w("type"))
        sections.append(
            Section(
                refs=refs,
                title_page=title is not None and _on(title),
                start=int(start) if start and start.isdigit() and len(start) < 7 else None,
                continuous=kind_el is not None and kind_el.get(_w("val")) == "continuous",
            )
        )
    return sections or [Section(refs={})], elements


def _even_and_odd(archive: zipfile.ZipFile) -> bool:
    if "word/settings.xml" not in archive.namelist():
        return False
    setting = parse_xml(read_member(archive, "word/settings.xml")).find(_w("evenAndOddHeaders"))
    return setting is not None and _on(setting)


def read_pages(archive: zipfile.ZipFile, root: Any) -> Pages:
    """The pages of the document whose parsed ``word/document.xml`` is ``root``."""
    body = root.find(_w("body"))
    blocks = _blocks(body)
    sections, section_elements = _sections(root, _relationships(archive))
    # Keyed by the paragraphs themselves: lxml gives the same object for an element while one
    # is held (an id() of a proxy let go could be another element's).
    ends_section = {e.getparent().getparent(): i for i, e in enumerate(section_elements)
                    if e.getparent().tag == _w("pPr")}  # fmt: skip

    starts = [0]
    section_of_start = [0]
    fresh = True  # a page has begun and nothing is on it yet
    rendered = False
    section = 0
    cut = False

    def page_break(before: int) -> None:
        nonlocal fresh, cut
        fresh = True
        if len(starts) >= MAX_PAGES:
            cut = True
            return
        starts.append(before)
        section_of_start.append(section)

    for index, block in enumerate(blocks):
        seen = False
        ending: int | None = None  # the section this block is the last of
        for node in block.iter():
            tag = node.tag
            if tag == _w("t") or tag == _w("delText"):
                if node.text and node.text.strip():
                    seen = True
                    fresh = False
            elif tag in {_w("drawing"), _w("pict"), _w("object")}:
                seen = True
                fresh = False
            elif tag == _w("br") and node.get(_w("type")) == "page":
                page_break(index + 1 if seen else index)  # at a page's top too: a blank page
            elif (tag == _w("pageBreakBefore") and _on(node)) or (
                tag == _w("lastRenderedPageBreak")
            ):
                # A paragraph set to start a page that already starts one, or Word's mark of a
                # page already begun, is that same page.
                rendered = rendered or tag == _w("lastRenderedPageBreak")
                if not fresh:
                    page_break(index + 1 if seen else index)
            elif tag == _w("p") and node in ends_section:
                ending = ends_section[node]
        if ending is not None and ending + 1 < len(sections):
            section = ending + 1
            if not sections[section].continuous:
                page_break(index + 1)  # the next section begins on a new page
            # (a continuous one goes on on the same page, its own from the next page on)

    for before, after in pairwise(sections):
        after.refs = {**before.refs, **after.refs}  # what a section does not set, it inherits
    pages: list[Page] = []
    number = 0
    for k, start_section in enumerate(section_of_start):
        first = k == 0 or section_of_start[k - 1] != start_section
        restart = sections[start_section].start if first else None
        number = restart if restart is not None else number + 1
        pages.append(Page(section=start_section, number=number, first_of_section=first))

    parts: dict[str, list[Line]] = {}
    for name in {p for s in sections for p in s.refs.values()}:
        if len(parts) >= MAX_PARTS or name not in archive.namelist():
            continue
        parts[name] = _part_lines(parse_xml(read_member(archive, name)))
    return Pages(
        starts=starts,
        pages=pages,
        per_section=Counter(p.section for p in pages),
        sections=sections,
        parts=parts,
        even_and_odd=_even_and_odd(archive),
        rendered=rendered,
        cut=cut,
    )


def _part_for(pages: Pages, page: Page, kind: str) -> str | None:
    """The header or footer part printed on ``page``: the section's own of its type, else the
    one the section before had (Word's inheritance)."""
    section = pages.sections[page.section]
    if section.title_page and page.first_of_section:
        variant = "first"
    elif pages.even_and_odd and page.number % 2 == 0:
        variant = "even"
    else:
        variant = "default"
    return section.refs.get((kind, variant))


def _lines_html(pages: Pages, page: Page, kind: str) -> str:
    part = _part_for(pages, page, kind)
    lines = pages.parts.get(part or "", [])
    if not lines:
        return ""
    total = len(pages.pages)
    in_section = pages.per_section[page.section]
    text = "".join(
        f"<div>{html.escape(_line_text(line, page, total, in_section))}</div>" for line in lines
    )
    return f'<div class="cr-preview-page-{kind}">{text}</div>'


def _top(pages: Pages, index: int) -> str:
    page = pages.pages[index]
    return (
        '<div class="cr-preview-page-top">'
        f'<div class="cr-preview-page-number">Page {page.number}</div>'
        f"{_lines_html(pages, page, 'header')}</div>"
    )


def _bottom(pages: Pages, index: int) -> str:
    footer = _lines_html(pages, pages.pages[index], "footer")
    return f'<div class="cr-preview-page-bottom">{footer}</div>' if footer else ""


def _blocks(body: Any) -> list[Any]:
    """The body's top-level elements, in order, but its last section's properties."""
    if body is None:
        return []
    return [e for e in body if isinstance(e.tag, str) and e.tag != _w("sectPr")]


def mark_pages(root: Any, pages: Pages) -> None:
    """A paragraph of the token before each top-level block a page begins at (and one after the
    last block, for the last page's footer), for :func:`place_pages` to find in mammoth's HTML."""
    body = root.find(_w("body"))
    if body is None:
        return
    blocks = _blocks(body)

    def token_paragraph(place: str) -> Any:
        paragraph = body.makeelement(_w("p"), {})
        run = paragraph.makeelement(_w("r"), {})
        text = run.makeelement(_w("t"), {})
        text.text = f"{pages.token}-{place}"
        run.append(text)
        paragraph.append(run)
        return paragraph

    tail = blocks[-1] if blocks else None  # the last paragraph after the last block so far
    for place in [*sorted(set(pages.starts)), "end"]:
        paragraph = token_paragraph(str(place))
        at = place if isinstance(place, int) else len(blocks)
        if at < len(blocks):
            blocks[at].addprevious(paragraph)
            continue
        if tail is not None:
            tail.addnext(paragraph)
        else:
            body.insert(0, paragraph)
        tail = paragraph


def place_pages(body_html: str, pages: Pages) -> tuple[str, str]:
    """mammoth's ``body_html`` with each token paragraph replaced by the pages' markup; and the
    same HTML with the tokens simply removed (for the words search reads)."""
    token = re.escape(pages.token)
    at_place: dict[str, list[int]] = {}
    for index, start in enumerate(pages.starts):
        at_place.setdefault(str(start), []).append(index)

    def markup(match: re.Match[str]) -> str:
        place = match.group(1)
        if place == "end":
            return _bottom(pages, len(pages.pages) - 1)
        out = []
        for index in at_place.get(place, []):
            if index > 0:
                out.append(_bottom(pages, index - 1))
            out.append(_top(pages, index))
        return "".join(out)

    paragraph = re.compile(rf"<p>{token}-([0-9]+|end)</p>")
    stray = re.compile(rf"{token}-(?:[0-9]+|end)")
    marked = stray.sub("", paragraph.sub(markup, body_html))
    plain = stray.sub("", paragraph.sub("", body_html))
    return marked, plain


def notes(pages: Pages) -> list[str]:
    """What a reader should know about the pages shown."""
    if len(pages.pages) <= 1:
        return []
    found = []
    if pages.rendered:
        found.append(
            "Pages break where Word last laid the document out when it was saved; another "
            "program or printer may break them elsewhere."
        )
    else:
        found.append(
            "The file does not record where Word broke its pages, so only its own page and "
            "section breaks are shown."
        )
    if pages.cut:
        found.append(f"Pages are marked up to page {MAX_PAGES:,}.")
    return found


def header_words(pages: Pages) -> str:
    """The headers' and footers' words, once each, for search."""
    seen: dict[str, None] = {}
    for lines in pages.parts.values():
        for line in lines:
            text = " ".join("".join(p for p in line if isinstance(p, str)).split())
            if text:
                seen.setdefault(text, None)
    return " ".join(seen)
