"""A Word file's paragraphs as a reader sees them, changed by suggestions.

Three operations on a .docx, each returning a new file and never changing the one given:

- :func:`apply`: the suggestions accepted. Only the runs (stretches of equally formatted text)
  that the changed characters are in are rewritten: a run's text is cut and the new text put in
  the run it joins, so it keeps that run's formatting (bold stays bold). Everything else in
  ``word/document.xml`` is kept as it was read (serialised by lxml), and every other part of the
  file is copied byte for byte.
- :func:`with_tracked_changes`: the same suggestions as Word's own revisions (``w:del`` with
  ``w:delText`` and ``w:ins``, each with a unique ``w:id``, ``w:author`` and ``w:date``), and
  comment threads as Word comments (``word/comments.xml``, anchored by
  ``w:commentRangeStart``/``End`` and a ``w:commentReference``), replies linked to their thread
  through ``word/commentsExtended.xml`` (``w15:paraIdParent``, Word's own format; LibreOffice
  7.4 shows each reply as a comment on the same passage, not nested: decision 14).
- :func:`accept_all_revisions`: the file's own tracked changes accepted; :func:`tracked_revisions`
  counts them first (what a page offers to accept, and what the new version's note says).

How a paragraph is addressed. The paragraphs are ``word/document.xml``'s body paragraphs in
document order: headings, list items and table cells included; paragraphs inside text boxes
are not (they belong to a picture). A paragraph's text is what a reader sees with every tracked
change accepted: the text of its runs, hyperlinks' text included, ``w:tab`` as ``"\\t"``,
``w:br``/``w:cr`` as ``"\\n"``, ``w:noBreakHyphen`` as U+2011 and ``w:softHyphen`` as U+00AD;
text a tracked change deleted is left out, text it inserted is in; field codes are left out and
field results are in. :func:`paragraphs` lists them. An edit names its paragraph by that exact
text and which occurrence of it (1 for the first paragraph with that text), and a range
``[start, end)`` of Python string positions (code points) in it.

What is refused, always with a sentence and before anything is written: a paragraph no longer
in the file; a range outside its paragraph (a change to several paragraphs is one edit per
paragraph); overlapping edits, or two that add text at one place; a range that touches a field
result, a content control, a smart tag or custom XML markup, a tracked change already in the
file, or that has a picture, an equation, a footnote reference or another object inside it;
text with control characters (only tab and newline are allowed) or longer than
:data:`MAX_TEXT`. After the change the document is read back and every paragraph compared with
what it must say; any difference refuses the change, so a fault here never writes a damaged
file.
"""

from __future__ import annotations

import copy
import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from commonroom.office.package import (
    OfficeFileError,
    Package,
    parse_xml,
    serialize_like,
    serialize_xml,
)

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
M = "http://schemas.openxmlformats.org/officeDocument/2006/math"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MAIN_DOCUMENT = f"{REL}/officeDocument"
COMMENTS_REL = f"{REL}/comments"
COMMENTS_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.comments+xml"
COMMENTS_EX_REL = "http://schemas.microsoft.com/office/2011/relationships/commentsExtended"
COMMENTS_EX_TYPE = (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.commentsExtended+xml"
)
STORY_RELS = {f"{REL}/{kind}" for kind in ("header", "footer", "footnotes", "endnotes", "comments")}

MAX_TEXT = 20_000  # characters of new text in one edit, or in one comment
MAX_EDITS = 2_000  # edits (or comments) in one call
MAX_AUTHOR = 255

NOT_WORD = "The file is not a Word document."
FIELD = (
    "The passage includes a field (such as a page number, a date or a cross-reference), "
    "which Word works out itself: change it in Word."
)
TRACKED = (
    "The passage overlaps a tracked change already in the file: accept or reject the file's "
    "tracked changes first."
)
CONTROL = (
    "The passage is inside a content control (a form field), which a suggestion cannot "
    "change: change it in Word."
)
MARKUP = (
    "The passage is inside a smart tag or custom XML markup, which a suggestion cannot "
    "change: change it in Word."
)
OBJECT = (
    "The passage includes a picture, an equation, a footnote or another object, which a "
    "suggestion cannot change: change it in Word."
)
UNKNOWN = "The passage includes something a suggestion cannot change safely: change it in Word."
DAMAGE = "The change could not be made without damaging the file, so nothing was changed."


def _w(tag: str) -> str:
    return f"{{{W}}}{tag}"


P, R, T, RPR, PPR = _w("p"), _w("r"), _w("t"), _w("rPr"), _w("pPr")
INS, DEL, MOVE_TO, MOVE_FROM = _w("ins"), _w("del"), _w("moveTo"), _w("moveFrom")
HYPERLINK, DEL_TEXT = _w("hyperlink"), _w("delText")
# Run content that is a character of the paragraph's text.
SINGLE = {
    _w("tab"): "\t",
    _w("br"): "\n",
    _w("cr"): "\n",
    _w("noBreakHyphen"): "\u2011",
    _w("softHyphen"): "\u00ad",
}
# Run content that takes no room in the text and that a change may pass over and keep.
RUN_MARKS = {
    _w("lastRenderedPageBreak"),
    _w("commentReference"),
    _w("annotationRef"),
    _w("footnoteRef"),
    _w("endnoteRef"),
}
# Paragraph content that marks a place (bookmarks, comment ranges, proofing marks).
PLACE_MARKS = {
    _w(tag)
    for tag in (
        "bookmarkStart",
        "bookmarkEnd",
        "commentRangeStart",
        "commentRangeEnd",
        "proofErr",
        "permStart",
        "permEnd",
        "moveFromRangeStart",
        "moveFromRangeEnd",
        "moveToRangeStart",
        "moveToRangeEnd",
        "customXmlInsRangeStart",
        "customXmlInsRangeEnd",
        "customXmlDelRangeStart",
        "customXmlDelRangeEnd",
        "customXmlMoveFromRangeStart",
        "customXmlMoveFromRangeEnd",
        "customXmlMoveToRangeStart",
        "customXmlMoveToRangeEnd",
    )
}
CONTAINERS = {
    _w("fldSimple"): FIELD,
    _w("smartTag"): MARKUP,
    _w("customXml"): MARKUP,
    _w("dir"): UNKNOWN,
    _w("bdo"): UNKNOWN,
}
PROPERTIES = {_w("smartTagPr"), _w("customXmlPr"), _w("sdtPr"), _w("sdtEndPr")}


# --- what callers pass --------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """Replace ``[start, end)`` of a paragraph with ``text``: a deletion when ``text`` is empty,
    an insertion when ``start == end``."""

    paragraph: str
    start: int
    end: int
    text: str
    occurrence: int = 1


@dataclass(frozen=True)
class NewParagraph:
    """A new paragraph reading ``text`` right after the paragraph named."""

    after: str
    text: str
    occurrence: int = 1


Edit = Change | NewParagraph


@dataclass(frozen=True)
class Revision:
    """An edit as a tracked change by ``author`` at ``date`` (timezone-aware)."""

    edit: Edit
    author: str
    date: datetime


@dataclass(frozen=True)
class Reply:
    author: str
    date: datetime
    text: str


@dataclass(frozen=True)
class CommentThread:
    """A Word comment on ``[start, end)`` of a paragraph, with its replies in order."""

    paragraph: str
    start: int
    end: int
    author: str
    date: datetime
    text: str
    occurrence: int = 1
    replies: tuple[Reply, ...] = ()


# --- reading paragraphs --------------------------------------------------------------------------


@dataclass
class _Atom:
    """One piece of a paragraph: a run's child (text, a tab, a picture…) or a paragraph-level
    mark, at ``start`` in the paragraph's text, ``text`` long (empty when it takes no room)."""

    start: int
    text: str
    node: Any
    run: Any  # the w:r holding it (None for a paragraph-level mark)
    unit: Any  # the element directly in the paragraph (or a hyperlink) that holds it
    blocked: str | None  # why a change may not touch it; None when it may

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass
class _Paragraph:
    element: Any
    fields: tuple[str, ...]  # the complex fields open where it starts ("code" or "result")
    text: str = ""


def _atoms(paragraph: _Paragraph, *, rejected: bool = False) -> list[_Atom]:
    """``paragraph``'s atoms in order; with ``rejected``, as it reads with tracked changes
    rejected (deleted text in, inserted text out) instead of accepted."""
    atoms: list[_Atom] = []
    fields = list(paragraph.fields)
    position = 0

    def add(node: Any, run: Any | None, unit: Any, text: str, blocked: str | None) -> None:
        nonlocal position
        atoms.append(_Atom(position, text, node, run, unit, blocked))
        position += len(text)

    def run(element: Any, unit: Any, blocked: str | None) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or tag == RPR:
                continue
            in_code = bool(fields) and fields[-1] == "code"
            why = blocked or (FIELD if fields else None)
            if tag == T:
                add(child, element, unit, "" if in_code else child.text or "", why)
            elif tag in SINGLE:
                add(child, element, unit, "" if in_code else SINGLE[tag], why)
            elif tag == DEL_TEXT:
                add(child, element, unit, child.text or "" if rejected else "", TRACKED)
            elif tag == _w("fldChar"):
                kind = child.get(_w("fldCharType"))
                if kind == "begin":
                    fields.append("code")
                elif kind == "separate" and fields:
                    fields[-1] = "result"
                elif kind == "end" and fields:
                    fields.pop()
                add(child, element, unit, "", FIELD)
            elif tag in (_w("instrText"), _w("delInstrText")):
                add(child, element, unit, "", FIELD)
            elif tag in RUN_MARKS:
                add(child, element, unit, "", why)
            else:  # pictures, objects, symbols, footnote references, anything unknown
                add(child, element, unit, "", blocked or OBJECT)

    def content(parent: Any, unit: Any | None, blocked: str | None) -> None:
        for child in parent:
            tag = child.tag
            if not isinstance(tag, str) or tag in (PPR, *PROPERTIES):
                continue
            here = unit if unit is not None else child
            if tag == R:
                run(child, here, blocked)
            elif tag == HYPERLINK:
                content(child, unit, blocked)
            elif tag in (INS, MOVE_TO):
                if rejected:
                    add(child, None, here, "", TRACKED)
                else:
                    content(child, here, TRACKED)
            elif tag in (DEL, MOVE_FROM):
                if rejected:
                    content(child, here, TRACKED)
                else:
                    add(child, None, here, "", TRACKED)
            elif tag == _w("sdt"):
                inner = child.find(_w("sdtContent"))
                if inner is not None:
                    content(inner, here, blocked or CONTROL)
            elif tag in CONTAINERS:
                content(child, here, blocked or CONTAINERS[tag])
            elif tag in PLACE_MARKS:
                add(child, None, here, "", None)
            elif tag.startswith(f"{{{M}}}"):
                add(child, None, here, "", OBJECT)
            else:
                add(child, None, here, "", UNKNOWN)

    content(paragraph.element, None, None)
    return atoms


def _text(atoms: list[_Atom]) -> str:
    return "".join(atom.text for atom in atoms)


def _body_paragraphs(root: Any) -> list[_Paragraph]:
    body = root.find(_w("body"))
    if root.tag != _w("document") or body is None:
        raise OfficeFileError(NOT_WORD)
    found: list[_Paragraph] = []
    fields: tuple[str, ...] = ()
    for element in body.iter(P):
        if any(
            a.tag in (P, _w("txbxContent"), f"{{{MC}}}AlternateContent")
            for a in element.iterancestors()
        ):
            continue  # a text box's paragraph belongs to its picture
        paragraph = _Paragraph(element, fields)
        atoms = _atoms(paragraph)
        paragraph.text = _text(atoms)
        found.append(paragraph)
        fields = _fields_after(paragraph)
    return found


def _fields_after(paragraph: _Paragraph) -> tuple[str, ...]:
    fields = list(paragraph.fields)
    for element in paragraph.element.iter(_w("fldChar")):
        if any(a.tag in (DEL, MOVE_FROM) for a in element.iterancestors()):
            continue
        kind = element.get(_w("fldCharType"))
        if kind == "begin":
            fields.append("code")
        elif kind == "separate" and fields:
            fields[-1] = "result"
        elif kind == "end" and fields:
            fields.pop()
    return tuple(fields)


def _main_part(package: Package) -> str:
    for _id, kind, target in package.relationships(None):
        if kind == MAIN_DOCUMENT and target in package:
            return target
    raise OfficeFileError(NOT_WORD)


def _open(docx: bytes) -> tuple[Package, str, Any]:
    package = Package.open(docx)
    name = _main_part(package)
    return package, name, package.xml(name)


def paragraphs(docx: bytes) -> list[str]:
    """The text of each body paragraph of ``docx``, in document order (see the module)."""
    _package, _name, root = _open(docx)
    return [p.text for p in _body_paragraphs(root)]


# --- checking what is asked ----------------------------------------------------------------------


def _check_text(text: str, what: str = "The suggested text") -> None:
    if len(text) > MAX_TEXT:
        raise OfficeFileError(
            f"{what} is longer than {MAX_TEXT:,} characters; make it as several suggestions."
        )
    for character in text:
        if character in "\t\n":
            continue
        if unicodedata.category(character) in ("Cc", "Cs") or character in "\ufffe\uffff":
            raise OfficeFileError(
                f"{what} contains a control character; only tabs and new lines are allowed."
            )


def _check_person(author: str, date: datetime) -> None:
    _check_text(author, "The author's name")
    if not author.strip() or len(author) > MAX_AUTHOR or "\n" in author or "\t" in author:
        raise OfficeFileError("Each change and comment needs an author's name on one line.")
    if date.tzinfo is None:
        raise OfficeFileError("Each change and comment needs a date with its time zone.")


def _quote(text: str) -> str:
    short = text if len(text) <= 60 else text[:57] + "…"
    return "“" + short.replace("\n", " ").replace("\t", " ") + "”"


def _find(found: list[_Paragraph], text: str, occurrence: int) -> _Paragraph:
    if occurrence < 1:
        raise OfficeFileError("A paragraph's occurrence is counted from 1.")
    matches = [p for p in found if p.text == text]
    if len(matches) < occurrence:
        raise OfficeFileError(
            f"The paragraph {_quote(text)} is no longer in the file as it was when the "
            "suggestion was made, so it was not changed."
        )
    return matches[occurrence - 1]


def _check_range(paragraph: _Paragraph, start: int, end: int) -> None:
    if not 0 <= start <= end:
        raise OfficeFileError("A suggestion's place in its paragraph is not valid.")
    if end > len(paragraph.text):
        raise OfficeFileError(
            f"A suggestion reaches beyond the paragraph {_quote(paragraph.text)}: a change "
            "to several paragraphs must be made as one suggestion per paragraph."
        )


def _check_conflicts(changes: list[Change]) -> None:
    ordered = sorted(changes, key=lambda c: (c.start, c.end))
    for first, second in itertools.pairwise(ordered):
        overlap = second.start < first.end or (
            first.start == first.end == second.start == second.end
        )
        same_place = first.text and second.text and first.start == second.start
        if overlap or same_place:
            raise OfficeFileError(
                "Two suggestions change the same words of the paragraph "
                f"{_quote(first.paragraph)}: accept one of them at a time."
            )


def _refuse_blocked(atoms: list[_Atom], start: int, end: int) -> None:
    for atom in atoms:
        if atom.blocked is None:
            continue
        if atom.text and atom.start < end and start < atom.end:
            raise OfficeFileError(atom.blocked)
        if not atom.text and start < atom.start < end:
            raise OfficeFileError(atom.blocked)


def _anchor(atoms: list[_Atom], start: int, end: int) -> tuple[_Atom, int] | None:
    """Where new text goes: the atom it joins and the offset in it. For a replacement, the
    first replaced character's (the new text takes its formatting, as Word does); for an
    insertion, the character before's, else the one after's; None in a paragraph without
    text."""
    texts = [a for a in atoms if a.text]
    if not texts:
        return None
    if start < end:
        atom = next(a for a in texts if a.start < end and start < a.end)
        return atom, start - atom.start
    before = next((a for a in texts if a.start < start <= a.end), None)
    if before is not None and before.blocked is None:
        return before, start - before.start
    after = next((a for a in texts if a.start <= start < a.end), None)
    if after is not None and after.blocked is None:
        return after, start - after.start
    raise OfficeFileError((before or after or texts[0]).blocked or UNKNOWN)


# --- building XML --------------------------------------------------------------------------------


def _el(tag: str, attributes: dict[str, str] | None = None) -> Any:
    from lxml import etree

    return etree.Element(_w(tag), attributes or {})


def _text_element(text: str, tag: str = "t") -> Any:
    element = _el(tag)
    element.text = text
    element.set(XML_SPACE, "preserve")
    return element


def _content(text: str, *, before: str = "", after: str = "") -> list[Any]:
    """Run content for ``text``: ``w:t`` pieces, ``w:tab`` for tabs and ``w:br`` for newlines;
    ``before`` and ``after`` (an existing ``w:t``'s text, kept as it is) join its first and
    last pieces."""
    parts = re.split(r"([\t\n])", text)  # text, separator, text, …, text
    parts[0] = before + parts[0]
    parts[-1] = parts[-1] + after
    elements = []
    for index, piece in enumerate(parts):
        if index % 2:
            elements.append(_el("tab" if piece == "\t" else "br"))
        elif piece:
            elements.append(_text_element(piece))
    return elements


def _clean_run_properties(properties: Any | None) -> Any | None:
    """A copy of run properties without revision records (a new run is not a change of
    formatting, nor a paragraph mark's insertion or deletion)."""
    if properties is None:
        return None
    clean = copy.deepcopy(properties)
    clean.tag = RPR
    for tag in ("rPrChange", "ins", "del", "moveFrom", "moveTo"):
        for old in clean.findall(_w(tag)):
            clean.remove(old)
    return clean


def _new_run(properties: Any | None, text: str) -> Any:
    run = _el("r")
    clean = _clean_run_properties(properties)
    if clean is not None and len(clean):
        run.append(clean)
    for element in _content(text):
        run.append(element)
    return run


def _stamp(date: datetime) -> str:
    return date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Ids:
    """Fresh ids: revisions' and comments' ``w:id`` and paragraphs' ``w14:paraId``."""

    last: int  # the highest w:id in the file's Word parts: revisions and comments go above it
    para_ids: set[str]
    next_para: int = 0x1C000001

    def revision_id(self) -> str:
        self.last += 1
        return str(self.last)

    comment_id = revision_id

    def para_id(self) -> str:
        while f"{self.next_para:08X}" in self.para_ids:
            self.next_para += 1
        value = f"{self.next_para:08X}"
        self.para_ids.add(value)
        self.next_para += 1
        return value


_W_ID = re.compile(rb'\bw:id="(-?[0-9]{1,10})"')
_PARA_ID = re.compile(rb'paraId="([0-9A-Fa-f]{8})"')


def _ids(package: Package) -> _Ids:
    last = 0
    para_ids: set[str] = set()
    for name in package.names():
        if not (name.startswith("word/") and name.endswith(".xml")):
            continue
        data = package.read(name)
        numbers = [int(n) for n in _W_ID.findall(data)]
        if numbers:
            last = max(last, *numbers)
        para_ids.update(p.decode().upper() for p in _PARA_ID.findall(data))
    return _Ids(last=last, para_ids=para_ids)


# --- changing a paragraph ------------------------------------------------------------------------


def _change_in_place(paragraph: _Paragraph, change: Change) -> None:
    """``change`` accepted: text cut from the runs it covers, new text put in the run it
    joins."""
    atoms = _atoms(paragraph)
    start, end = change.start, change.end
    _refuse_blocked(atoms, start, end)
    anchor = _anchor(atoms, start, end)
    touched_runs: list[Any] = []
    if anchor is None:
        if change.text:
            properties = paragraph.element.find(f"{PPR}/{RPR}")
            paragraph.element.append(_new_run(properties, change.text))
        return
    anchor_atom, offset = anchor
    new_content = _content(change.text)
    # The new text first, in the run it joins (positions before it are unchanged).
    if anchor_atom.node.tag == T:
        old = anchor_atom.node.text or ""
        cut_to = min(len(old), max(offset, end - anchor_atom.start))
        before, after = old[:offset], old[cut_to:]
        _replace_node(anchor_atom.node, _content(change.text, before=before, after=after))
        touched_runs.append(anchor_atom.run)
        done = {id(anchor_atom)}
    else:
        target = anchor_atom.node
        if offset == 0:
            for piece in new_content:
                target.addprevious(piece)
        else:
            for piece in reversed(new_content):
                target.addnext(piece)
        done = set()
    # Then the rest of the covered text is cut.
    for atom in atoms:
        if id(atom) in done or not atom.text or not (atom.start < end and start < atom.end):
            continue
        if atom.node.tag == T:
            old = atom.node.text or ""
            kept = old[: max(0, start - atom.start)] + old[min(len(old), end - atom.start) :]
            if kept:
                atom.node.text = kept
                atom.node.set(XML_SPACE, "preserve")
            else:
                atom.run.remove(atom.node)
        else:
            atom.run.remove(atom.node)
        touched_runs.append(atom.run)
    for run in touched_runs:
        if run is not None and all(child.tag == RPR for child in run):
            parent = run.getparent()
            if parent is not None:
                parent.remove(run)


def _replace_node(node: Any, pieces: list[Any]) -> None:
    parent = node.getparent()
    if not pieces:
        parent.remove(node)
        return
    first = pieces[0]
    if first.tag == T:
        node.text = first.text
        node.set(XML_SPACE, "preserve")
        rest = pieces[1:]
    else:
        node.addprevious(first)
        parent.remove(node)
        node = first
        rest = pieces[1:]
    for piece in reversed(rest):
        node.addnext(piece)


def _split(paragraph: _Paragraph, position: int, *, marks_left: bool) -> None:
    """Runs split so that none holds text on both sides of ``position``. Things that take no
    room at ``position`` stay on the left when ``marks_left``, else go right. Only runs a
    change may touch are split."""
    atoms = _atoms(paragraph)
    by_run: dict[int, list[_Atom]] = {}
    runs: dict[int, Any] = {}
    for atom in atoms:
        if atom.run is not None:
            by_run.setdefault(id(atom.run), []).append(atom)
            runs[id(atom.run)] = atom.run
    for key, run_atoms in by_run.items():
        sides = []
        for atom in run_atoms:
            if atom.text:
                side = "L" if atom.end <= position else "R" if atom.start >= position else "S"
            elif atom.start != position:
                side = "L" if atom.start < position else "R"
            else:
                side = "L" if marks_left else "R"
            sides.append(side)
        if "S" not in sides and not ("L" in sides and "R" in sides):
            continue
        if any(a.blocked is not None and a.text for a in run_atoms):
            continue  # not split: the caller keeps to the run's edge
        run = runs[key]
        right = copy.deepcopy(run)
        left_children = [c for c in run if isinstance(c.tag, str) and c.tag != RPR]
        right_children = [c for c in right if isinstance(c.tag, str) and c.tag != RPR]
        for atom, side, mine, theirs in zip(
            run_atoms, sides, left_children, right_children, strict=True
        ):
            if side == "L":
                right.remove(theirs)
            elif side == "R":
                run.remove(mine)
            else:
                cut = position - atom.start
                mine.text = (mine.text or "")[:cut]
                theirs.text = (theirs.text or "")[cut:]
                mine.set(XML_SPACE, "preserve")
                theirs.set(XML_SPACE, "preserve")
        run.addnext(right)


def _change_tracked(
    paragraph: _Paragraph, change: Change, author: str, date: str, ids: _Ids
) -> None:
    """``change`` as Word revisions: the covered runs in ``w:del`` (their text as
    ``w:delText``), the new text in a run inside ``w:ins`` beside them."""
    start, end = change.start, change.end
    atoms = _atoms(paragraph)
    _refuse_blocked(atoms, start, end)
    anchor = _anchor(atoms, start, end)
    if anchor is None:
        if change.text:
            properties = paragraph.element.find(f"{PPR}/{RPR}")
            inserted = _el(
                "ins", {_w("id"): ids.revision_id(), _w("author"): author, _w("date"): date}
            )
            inserted.append(_new_run(properties, change.text))
            paragraph.element.append(inserted)
        return
    anchor_atom = anchor[0]
    properties = anchor_atom.run.find(RPR)
    _split(paragraph, start, marks_left=True)
    if end > start:
        _split(paragraph, end, marks_left=False)
    atoms = _atoms(paragraph)
    place: tuple[Any, str] | None = None  # (element, "before" | "after") for the insertion
    if start < end:
        covered: list[Any] = []
        for atom in atoms:
            if atom.text and atom.start >= start and atom.end <= end and atom.run not in covered:
                covered.append(atom.run)
        groups: list[list[Any]] = []
        for run in covered:
            if groups and groups[-1][-1].getnext() is run:
                groups[-1].append(run)
            else:
                groups.append([run])
        for group in groups:
            deleted = _el(
                "del", {_w("id"): ids.revision_id(), _w("author"): author, _w("date"): date}
            )
            group[0].addprevious(deleted)
            for run in group:
                deleted.append(run)
                for text in run.findall(T):
                    text.tag = DEL_TEXT
                    text.set(XML_SPACE, "preserve")
                for code in run.findall(_w("instrText")):
                    code.tag = _w("delInstrText")
            if place is None:
                place = (deleted, "after")
    else:
        before = next((a for a in atoms if a.text and a.end == start and a.blocked is None), None)
        after = next((a for a in atoms if a.text and a.start == start and a.blocked is None), None)
        if before is not None:
            place = (before.run, "after")
        elif after is not None:
            place = (after.run, "before")
        else:
            raise OfficeFileError(UNKNOWN)
    if change.text and place is not None:
        inserted = _el("ins", {_w("id"): ids.revision_id(), _w("author"): author, _w("date"): date})
        inserted.append(_new_run(properties, change.text))
        element, side = place
        if side == "after":
            element.addnext(inserted)
        else:
            element.addprevious(inserted)


def _styles(package: Package, main: str) -> Any | None:
    for _id, kind, target in package.relationships(main):
        if kind == f"{REL}/styles" and target in package:
            return package.xml(target)
    return None


def _new_paragraph(paragraph: _Paragraph, text: str, styles: Any | None) -> Any:
    """A paragraph as Word makes one when Enter is pressed at the end of ``paragraph``: the
    style's "next" style (a heading is followed by body text), else the same paragraph
    properties and the formatting of the last character."""
    element = paragraph.element
    properties = element.find(PPR)
    style_el = properties.find(_w("pStyle")) if properties is not None else None
    style = style_el.get(_w("val")) if style_el is not None else None
    next_style = style
    if style is not None and styles is not None:
        for candidate in styles.iter(_w("style")):
            if candidate.get(_w("styleId")) == style:
                follower = candidate.find(_w("next"))
                if follower is not None and follower.get(_w("val")):
                    next_style = follower.get(_w("val"))
                break
    new = _el("p")
    run_properties = None
    if next_style != style:
        new_properties = _el("pPr")
        new_properties.append(_el("pStyle", {_w("val"): str(next_style)}))
        new.append(new_properties)
    else:
        if properties is not None:
            copied = copy.deepcopy(properties)
            for tag in ("sectPr", "pPrChange"):
                for old in copied.findall(_w(tag)):
                    copied.remove(old)
            mark = copied.find(RPR)
            if mark is not None:
                for tag in ("ins", "del", "moveFrom", "moveTo", "rPrChange"):
                    for old in mark.findall(_w(tag)):
                        mark.remove(old)
            new.append(copied)
        last = [a for a in _atoms(paragraph) if a.text and a.run is not None]
        if last:
            run_properties = last[-1].run.find(RPR)
    if text:
        new.append(_new_run(run_properties, text))
    return new


# --- comments ------------------------------------------------------------------------------------


def _marker_place(atoms: list[_Atom], position: int, *, end: bool) -> tuple[Any, str] | None:
    """Where a comment's start (or end) marker goes for ``position``: before the unit holding
    the character at ``position`` (after the one holding the character before it)."""
    texts = [a for a in atoms if a.text]
    if not texts:
        return None
    if end:
        holder = next((a for a in texts if a.start < position <= a.end), None)
        if holder is not None:
            return holder.unit, "after"
        return texts[0].unit, "before"
    holder = next((a for a in texts if a.start <= position < a.end), None)
    if holder is not None:
        return holder.unit, "before"
    return texts[-1].unit, "after"


def _put(marker: Any, place: tuple[Any, str] | None, paragraph: Any) -> None:
    if place is None:
        paragraph.append(marker)
    elif place[1] == "before":
        place[0].addprevious(marker)
    else:
        place[0].addnext(marker)


def _comment_element(
    comment_id: str, author: str, date: datetime, text: str, ids: _Ids
) -> tuple[Any, str]:
    """A ``w:comment`` and the ``w14:paraId`` of its last paragraph."""
    from lxml import etree

    element = _el(
        "comment",
        {
            _w("id"): comment_id,
            _w("author"): author,
            _w("date"): _stamp(date),
            _w("initials"): _initials(author),
        },
    )
    para_id = ""
    for index, line in enumerate(text.split("\n")):
        para_id = ids.para_id()
        paragraph = etree.SubElement(
            element, P, {f"{{{W14}}}paraId": para_id, f"{{{W14}}}textId": "77777777"}
        )
        if index == 0:
            mark = etree.SubElement(paragraph, R)
            etree.SubElement(mark, _w("annotationRef"))
        if line:
            paragraph.append(_new_run(None, line))
    return element, para_id


def _initials(author: str) -> str:
    return "".join(word[0] for word in author.split()[:3] if word).upper()


def _add_comments(
    package: Package,
    main: str,
    found: list[_Paragraph],
    threads: Sequence[CommentThread],
    ids: _Ids,
) -> None:
    from lxml import etree

    comments_name = next(
        (t for _i, k, t in package.relationships(main) if k == COMMENTS_REL and t in package),
        None,
    )
    if comments_name is None:
        comments = etree.Element(_w("comments"), nsmap={"w": W, "w14": W14, "mc": MC})
        comments.set(f"{{{MC}}}Ignorable", "w14")
    else:
        comments = package.xml(comments_name)
        existing = [int(c.get(_w("id"), "0")) for c in comments.iter(_w("comment"))]
        ids.last = max([ids.last, *existing])
    extended_name = next(
        (t for _i, k, t in package.relationships(main) if k == COMMENTS_EX_REL and t in package),
        None,
    )
    if extended_name is None:
        extended = etree.Element(f"{{{W15}}}commentsEx", nsmap={"w15": W15, "mc": MC})
        extended.set(f"{{{MC}}}Ignorable", "w15")
    else:
        extended = package.xml(extended_name)

    for thread in threads:
        paragraph = _find(found, thread.paragraph, thread.occurrence)
        _check_range(paragraph, thread.start, thread.end)
        _split(paragraph, thread.start, marks_left=True)
        _split(paragraph, thread.end, marks_left=False)
        atoms = _atoms(paragraph)
        people = [(thread.author, thread.date, thread.text)] + [
            (r.author, r.date, r.text) for r in thread.replies
        ]
        numbers = [ids.comment_id() for _person in people]
        starts = [_el("commentRangeStart", {_w("id"): n}) for n in numbers]
        ends = [_el("commentRangeEnd", {_w("id"): n}) for n in numbers]
        references = []
        for number in numbers:
            reference = _el("r")
            reference.append(_el("commentReference", {_w("id"): number}))
            references.append(reference)
        _put(starts[0], _marker_place(atoms, thread.start, end=False), paragraph.element)
        if thread.start == thread.end:
            starts[0].addnext(ends[0])
        else:
            _put(ends[0], _marker_place(atoms, thread.end, end=True), paragraph.element)
        # Replies' markers beside their thread's, as Word writes a thread: the starts together,
        # then the ends together, then the references.
        for earlier, later in itertools.pairwise(starts):
            earlier.addnext(later)
        for earlier, later in itertools.pairwise(ends):
            earlier.addnext(later)
        ends[-1].addnext(references[0])
        for earlier, later in itertools.pairwise(references):
            earlier.addnext(later)
        parent_para = ""
        for index, (number, (author, date, text)) in enumerate(zip(numbers, people, strict=True)):
            element, para_id = _comment_element(number, author, date, text, ids)
            comments.append(element)
            entry = etree.SubElement(extended, f"{{{W15}}}commentEx")
            entry.set(f"{{{W15}}}paraId", para_id)
            if index:
                entry.set(f"{{{W15}}}paraIdParent", parent_para)
            entry.set(f"{{{W15}}}done", "0")
            if index == 0:
                parent_para = para_id

    if comments_name is None:
        package.add(
            "word/comments.xml",
            serialize_xml(comments, standalone=True),
            content_type=COMMENTS_TYPE,
            rel_from=main,
            rel_type=COMMENTS_REL,
        )
    else:
        package.replace_xml(comments_name, comments)
    if extended_name is None:
        name = "word/commentsExtended.xml"
        if name in package:
            raise OfficeFileError(DAMAGE)
        package.add(
            name,
            serialize_xml(extended, standalone=True),
            content_type=COMMENTS_EX_TYPE,
            rel_from=main,
            rel_type=COMMENTS_EX_REL,
        )
    else:
        package.replace_xml(extended_name, extended)


# --- the operations ------------------------------------------------------------------------------


@dataclass
class _Plan:
    changes: dict[int, list[tuple[Change, str, str]]] = field(default_factory=dict)
    new: dict[int, list[tuple[NewParagraph, str, str]]] = field(default_factory=dict)


def _plan(found: list[_Paragraph], items: Sequence[tuple[Edit, str, str]]) -> _Plan:
    if len(items) > MAX_EDITS:
        raise OfficeFileError(f"At most {MAX_EDITS:,} suggestions can be applied at once.")
    plan = _Plan()
    for edit, author, date in items:
        _check_text(edit.text)
        if isinstance(edit, Change):
            paragraph = _find(found, edit.paragraph, edit.occurrence)
            _check_range(paragraph, edit.start, edit.end)
            if edit.start == edit.end and not edit.text:
                continue  # nothing to do
            plan.changes.setdefault(found.index(paragraph), []).append((edit, author, date))
        else:
            paragraph = _find(found, edit.after, edit.occurrence)
            plan.new.setdefault(found.index(paragraph), []).append((edit, author, date))
    for entries in plan.changes.values():
        _check_conflicts([change for change, _a, _d in entries])
    return plan


def _expected(text: str, changes: list[Change]) -> str:
    for change in sorted(changes, key=lambda c: (c.start, c.end), reverse=True):
        text = text[: change.start] + change.text + text[change.end :]
    return text


def _run(
    docx: bytes,
    items: Sequence[tuple[Edit, str, str]],
    *,
    tracked: bool,
    threads: Sequence[CommentThread] = (),
) -> bytes:
    from lxml import etree

    package, main, root = _open(docx)
    found = _body_paragraphs(root)
    original = [p.text for p in found]
    originally_rejected = [_text(_atoms(p, rejected=True)) for p in found]
    untouched_xml = [etree.tostring(p.element) for p in found]
    plan = _plan(found, items)
    if len(threads) > MAX_EDITS:
        raise OfficeFileError(f"At most {MAX_EDITS:,} comments can be added at once.")
    for thread in threads:
        _check_person(thread.author, thread.date)
        _check_text(thread.text, "A comment")
        for reply in thread.replies:
            _check_person(reply.author, reply.date)
            _check_text(reply.text, "A reply")
    commented = {found.index(_find(found, t.paragraph, t.occurrence)) for t in threads}
    try:
        added = _make_changes(package, main, found, plan, threads, tracked=tracked)
    except ValueError as exc:  # lxml refusing a string: a fault here, never a damaged file
        raise OfficeFileError(DAMAGE) from exc
    data = _serialise_checked(package, main, root)
    _verify(
        data,
        original,
        originally_rejected,
        untouched_xml,
        plan,
        added,
        tracked=tracked,
        commented=commented,
    )
    package.replace(main, data)
    return package.save()


def _make_changes(
    package: Package,
    main: str,
    found: list[_Paragraph],
    plan: _Plan,
    threads: Sequence[CommentThread],
    *,
    tracked: bool,
) -> dict[int, list[tuple[Any, str]]]:
    """The comments placed, then each paragraph's changes from its end backwards (so the places
    of those before stay true), then the new paragraphs. Returns the new paragraphs by the
    index of the paragraph they follow."""
    ids = _ids(package)
    if threads:
        _add_comments(package, main, found, threads, ids)
    for index, entries in plan.changes.items():
        paragraph = found[index]
        for change, author, date in sorted(
            entries, key=lambda e: (e[0].start, e[0].end), reverse=True
        ):
            if tracked:
                _change_tracked(paragraph, change, author, date, ids)
            else:
                _change_in_place(paragraph, change)
    styles = _styles(package, main) if plan.new else None
    added: dict[int, list[tuple[Any, str]]] = {}
    for index, new_entries in plan.new.items():
        paragraph = found[index]
        after = paragraph.element
        for new_paragraph, author, date in new_entries:
            element = _new_paragraph(paragraph, new_paragraph.text, styles)
            if tracked:
                _mark_inserted(element, author, date, ids)
            after.addnext(element)
            after = element
            added.setdefault(index, []).append((element, new_paragraph.text))
    return added


def _mark_inserted(element: Any, author: str, date: str, ids: _Ids) -> None:
    properties = element.find(PPR)
    if properties is None:
        properties = _el("pPr")
        element.insert(0, properties)
    mark = properties.find(RPR)
    if mark is None:
        mark = _el("rPr")
        properties.append(mark)
    mark.insert(
        0, _el("ins", {_w("id"): ids.revision_id(), _w("author"): author, _w("date"): date})
    )
    for run in element.findall(R):
        wrapper = _el("ins", {_w("id"): ids.revision_id(), _w("author"): author, _w("date"): date})
        run.addprevious(wrapper)
        wrapper.append(run)


def _serialise_checked(package: Package, main: str, root: Any) -> bytes:
    from lxml import etree

    try:
        return serialize_like(root, package.read(main))
    except (ValueError, etree.SerialisationError) as exc:
        raise OfficeFileError(DAMAGE) from exc


def _verify(
    data: bytes,
    original: list[str],
    originally_rejected: list[str],
    untouched_xml: list[bytes],
    plan: _Plan,
    added: dict[int, list[tuple[Any, str]]],
    *,
    tracked: bool,
    commented: set[int],
) -> None:
    """The written document read back: each paragraph says what it must (the new text where
    changed; as before elsewhere, down to its XML when nothing touched it), and with the
    tracked changes rejected it says what the file said before."""
    from lxml import etree

    try:
        root = parse_xml(data)
    except OfficeFileError as exc:
        raise OfficeFileError(DAMAGE) from exc
    after = _body_paragraphs(root)
    expected: list[str] = []
    expected_rejected: list[str | None] = []
    must_match_xml: list[bytes | None] = []
    for index, text in enumerate(original):
        changes = [c for c, _a, _d in plan.changes.get(index, [])]
        expected.append(_expected(text, changes))
        expected_rejected.append(originally_rejected[index])
        touched = bool(changes) or index in commented
        must_match_xml.append(None if touched else untouched_xml[index])
        for _element, new_text in added.get(index, []):
            expected.append(new_text)
            expected_rejected.append("" if tracked else None)
            must_match_xml.append(None)
    if [p.text for p in after] != expected:
        raise OfficeFileError(DAMAGE)
    for paragraph, rejected, xml in zip(after, expected_rejected, must_match_xml, strict=True):
        if tracked and rejected is not None and _text(_atoms(paragraph, rejected=True)) != rejected:
            raise OfficeFileError(DAMAGE)
        if xml is not None and etree.tostring(paragraph.element) != xml:
            raise OfficeFileError(DAMAGE)


def apply(docx: bytes, edits: Sequence[Edit]) -> bytes:
    """``docx`` with ``edits`` accepted (see the module)."""
    return _run(docx, [(edit, "", "") for edit in edits], tracked=False)


def with_tracked_changes(
    docx: bytes,
    revisions: Sequence[Revision],
    comments: Sequence[CommentThread] = (),
) -> bytes:
    """``docx`` with ``revisions`` as Word's tracked changes and ``comments`` as Word comment
    threads (see the module)."""
    items: list[tuple[Edit, str, str]] = []
    for revision in revisions:
        _check_person(revision.author, revision.date)
        items.append((revision.edit, revision.author, _stamp(revision.date)))
    return _run(docx, items, tracked=True, threads=comments)


# --- accepting a file's own tracked changes ------------------------------------------------------


CHANGE_RECORDS = {
    _w(tag)
    for tag in (
        "rPrChange",
        "pPrChange",
        "sectPrChange",
        "tblPrChange",
        "trPrChange",
        "tcPrChange",
        "tblGridChange",
        "tblPrExChange",
        "numberingChange",
        "moveFromRangeStart",
        "moveFromRangeEnd",
        "moveToRangeStart",
        "moveToRangeEnd",
        "customXmlInsRangeStart",
        "customXmlInsRangeEnd",
        "customXmlDelRangeStart",
        "customXmlDelRangeEnd",
        "customXmlMoveFromRangeStart",
        "customXmlMoveFromRangeEnd",
        "customXmlMoveToRangeStart",
        "customXmlMoveToRangeEnd",
    )
}
MARK_PARENTS = {RPR, _w("trPr"), _w("numPr"), _w("tcPr")}


def _accept(root: Any) -> bool:
    """Every tracked change in the part ``root`` accepted; True when there was one."""
    changed = False
    for tag in ("cellMerge", "cellDel"):
        if next(root.iter(_w(tag)), None) is not None:
            raise OfficeFileError(
                "The file has tracked changes to a table's cells, which cannot be accepted "
                "here: accept them in Word."
            )
    for record in [e for e in root.iter() if e.tag in CHANGE_RECORDS | {_w("cellIns")}]:
        record.getparent().remove(record)
        changed = True
    # Deleted content goes, whole rows included.
    for element in list(root.iter(DEL, MOVE_FROM)):
        parent = element.getparent()
        if parent is None:
            continue
        changed = True
        if parent.tag == _w("trPr"):
            row = parent.getparent()
            if row.getparent() is not None:
                row.getparent().remove(row)
        elif parent.tag == _w("numPr"):
            properties = parent.getparent()
            properties.remove(parent)
        elif parent.tag == RPR and parent.getparent() is not None and parent.getparent().tag == PPR:
            continue  # a deleted paragraph mark: the paragraphs are joined below
        else:
            parent.remove(element)
    # Inserted content stays, unwrapped; marks of insertion go.
    for element in list(root.iter(INS, MOVE_TO)):
        parent = element.getparent()
        if parent is None:
            continue
        changed = True
        if parent.tag in MARK_PARENTS:
            parent.remove(element)
            continue
        index = parent.index(element)
        for offset, child in enumerate(list(element)):
            parent.insert(index + offset, child)
        parent.remove(element)
    # A deleted paragraph mark joins its paragraph to the next one, which keeps its own
    # properties (as in Word); before a table or at the end of a cell the mark stays.
    for mark in [m for m in root.iter(DEL, MOVE_FROM) if m.getparent() is not None]:
        properties = mark.getparent().getparent()
        paragraph = properties.getparent() if properties is not None else None
        mark.getparent().remove(mark)
        if paragraph is None or paragraph.tag != P:
            continue
        following = paragraph.getnext()
        if following is None or following.tag != P:
            continue
        content = [c for c in paragraph if c.tag != PPR]
        target_properties = following.find(PPR)
        index = following.index(target_properties) + 1 if target_properties is not None else 0
        for offset, child in enumerate(content):
            following.insert(index + offset, child)
        paragraph.getparent().remove(paragraph)
    return changed


@dataclass(frozen=True)
class RevisionCount:
    """A file's tracked changes: text inserted (moves to included), text deleted (moves from
    included), and the others (formatting changes, inserted or deleted paragraph marks, rows,
    cells and numbering)."""

    insertions: int = 0
    deletions: int = 0
    others: int = 0

    @property
    def total(self) -> int:
        return self.insertions + self.deletions + self.others

    def __add__(self, other: RevisionCount) -> RevisionCount:
        return RevisionCount(
            self.insertions + other.insertions,
            self.deletions + other.deletions,
            self.others + other.others,
        )

    def described(self) -> str:
        """In words: "12 insertions, 4 deletions and 1 other change"."""
        parts = [
            f"{n} {word}{'' if n == 1 else plural}"
            for n, word, plural in (
                (self.insertions, "insertion", "s"),
                (self.deletions, "deletion", "s"),
                (self.others, "other change", "s"),
            )
            if n
        ]
        if not parts:
            return "no tracked changes"
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# A revision counted once: a range's start, not its end.
_COUNTED_RECORDS = {tag for tag in CHANGE_RECORDS if not tag.endswith("RangeEnd")} | {
    _w("cellIns"),
    _w("cellDel"),
    _w("cellMerge"),
}


def count_revisions(root: Any) -> RevisionCount:
    """The tracked changes in one part (``root``: its parsed XML)."""
    insertions = deletions = others = 0
    for element in root.iter(INS, MOVE_TO, DEL, MOVE_FROM, *_COUNTED_RECORDS):
        parent = element.getparent()
        if element.tag in _COUNTED_RECORDS or (parent is not None and parent.tag in MARK_PARENTS):
            others += 1
        elif element.tag in (INS, MOVE_TO):
            insertions += 1
        else:
            deletions += 1
    return RevisionCount(insertions, deletions, others)


def _story_parts(package: Package, main: str, root: Any) -> list[tuple[str, Any]]:
    """The main part and every part that holds text of its own (headers, footers, footnotes,
    endnotes, comments), parsed."""
    return [(main, root)] + [
        (target, package.xml(target))
        for _id, kind, target in package.relationships(main)
        if kind in STORY_RELS and target in package
    ]


def tracked_revisions(docx: bytes) -> RevisionCount:
    """The tracked changes in ``docx``'s body, headers, footers, footnotes, endnotes and
    comments (what :func:`accept_all_revisions` accepts)."""
    package, main, root = _open(docx)
    total = RevisionCount()
    for _name, part in _story_parts(package, main, root):
        total += count_revisions(part)
    return total


def accept_all_revisions(docx: bytes) -> bytes:
    """``docx`` with its tracked changes accepted in the body, headers, footers, footnotes,
    endnotes and comments: insertions kept, deletions removed (rows included), records of
    formatting changes dropped, a deleted paragraph mark joining its paragraph to the next."""
    package, main, root = _open(docx)
    for name, part in _story_parts(package, main, root):
        if _accept(part):
            package.replace_xml(name, part)
    return package.save()
