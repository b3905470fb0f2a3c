"""Where a passage chosen on a preview is in its version's file, and that file with suggestions
applied. No database here: bytes in, bytes (or a place) out, and a sentence when not.

Formats: Word (.docx), plain text (.txt) and Markdown (.md).

**From the preview to the file** (:func:`locate`). The passage is a range of a preview block's
text (``previews.blocks``). The file's side of it is a :class:`Place`: a paragraph of the file
(its text, which occurrence of that text, from 1) and a range in it.

- .docx: the paragraphs are ``office.wordedit.paragraphs`` (a reader's text, tracked changes
  accepted). mammoth, which makes the preview, writes each paragraph's text as it is (spaces,
  tabs, U+00AD/U+2011 kept) but a line or page break as ``<br>`` or nothing, where wordedit
  reads ``"\\n"``: so the block's text and the paragraph's are compared with line breaks left
  out, and positions are mapped around them. The n-th block with that text is the n-th
  paragraph with it; when the preview and the file have that text a different number of times
  (a text box's paragraph, which wordedit does not address; a footnote mark, a symbol or a
  tracked change, which the preview shows and the text does not), nothing is guessed: refused.
- .txt: the preview's paragraphs are the file's, split at blank lines, each line break a
  ``<br>`` (``previews.converters.text.convert_txt``); the same splitting is done here on the
  same decoded text, and block n is paragraph n.
- .md: block n is the n-th block of markdown-it's parse of the file that the converter writes
  as an anchored tag (paragraph, heading, list item, code block, table), its source the lines
  the parser read it from. The rendered passage is found in those lines only when it occurs in
  them exactly as often as in the rendered block, and the same one is taken; otherwise (the
  passage crosses markup, an entity, an escape) it is refused with a sentence.

**Applying** (:func:`apply`). .docx through ``office.wordedit.apply`` (only the changed runs
are rewritten; it reads its result back and refuses rather than damage). .txt and .md: the
change is made in the source (line ends and a byte-order mark kept as the file had them; new
Markdown text escaped so it reads as typed), then both files are rendered by the preview's own
converter and every block compared with what it must say: the changed blocks as suggested,
every other block as before. Any difference refuses the change; a file is never written that
does not read as suggested.
"""

from __future__ import annotations

import difflib
import itertools
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

from commonroom.core.exceptions import ApplicationError
from commonroom.office import package, wordedit
from commonroom.previews.blocks import Block, blocks_in
from commonroom.previews.convert import converter_for
from commonroom.previews.limits import MAX_TEXT_BYTES
from commonroom.suggestions.textmap import map_range, unbroken

FORMATS = frozenset({"docx", "txt", "md"})
NEW_PARAGRAPH = "new_paragraph"
INSERT_BEFORE = "insert_before"
INSERT_AFTER = "insert_after"

NOT_IN_FILE = (
    "This paragraph of the preview could not be found in the file as it reads there (it may "
    "hold a footnote mark, a symbol or tracked changes): change it in the file itself."
)
AMBIGUOUS = (
    "This paragraph's text appears a different number of times in the preview and in the file, "
    "so which one it is cannot be told: change it in the file itself."
)
MISMATCH = (
    "The preview of this version does not match its file, so the passage cannot be found in "
    "it: change it in the file itself."
)
MARKDOWN_UNMAPPED = (
    "This passage of the Markdown file cannot be matched to its source text (formatting, a "
    "link or an escape is in the way): choose a shorter passage, or change it in the file itself."
)
NOT_UTF8 = (
    "Suggestions can change text files written in UTF-8 only, and this one is not: change it in "
    "the file itself."
)
TOO_LONG = (
    f"Suggestions can change text files of up to {MAX_TEXT_BYTES // (1024 * 1024)} MB, and this "
    "one is longer: change it in the file itself."
)
UNSAFE = (
    "The change could not be made so that the file reads as suggested (its formatting is in "
    "the way), so nothing was changed: change it in the file itself."
)
OVERLAP = "Two suggestions change the same words of the paragraph {}: accept one of them at a time."
ONE_PARAGRAPH = (
    "Text with an empty line in it would make more than one paragraph of this file: suggest "
    "each paragraph separately."
)


WORD_TOO_LARGE = (
    f"Suggestions can change Word files of up to {package.MAX_TOTAL // (1024 * 1024)} MB, and "
    "this one is larger: change it in Word."
)


class PassageError(ApplicationError):
    """A passage that cannot be found in, or changed in, its file; the message says why."""

    code = "passage"


@dataclass(frozen=True)
class Place:
    """A passage as the file has it: ``[start, end)`` of the ``occurrence``-th paragraph of the
    file whose text is exactly ``paragraph`` (for Markdown, a block's source lines)."""

    paragraph: str
    occurrence: int
    start: int
    end: int


@dataclass(frozen=True)
class Edit:
    """One suggestion to apply: its kind, where it is in the file, the block's text as the
    preview showed it with the passage ``[shown_start, shown_end)`` in it, and the new text."""

    kind: str
    place: Place
    shown: str
    shown_start: int
    shown_end: int
    text: str


def check_size(fmt: str, size: int) -> None:
    """Refuse, before it is read, a file larger than any of its kind that can be changed (a
    Word file larger than what its parts may expand to; a text file longer than a preview
    reads)."""
    if fmt == "docx" and size > package.MAX_TOTAL:
        raise PassageError(WORD_TOO_LARGE)
    if fmt != "docx" and size > MAX_TEXT_BYTES:
        raise PassageError(TOO_LONG)


def quoted(text: str) -> str:
    short = text if len(text) <= 60 else text[:57] + "…"
    return "“" + " ".join(short.split()) + "”"


def usable_text(block: Block) -> str:
    """The part of a block's text a passage in it may cover: all of it, or, when blocks are
    inside it (a list item holding a list), what comes before the first of them."""
    return block.own if block.nested else block.text


# --- Comparing texts ---------------------------------------------------------------------------


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def _key(fmt: str, text: str) -> str:
    """What a block's text is compared by: line breaks left out (a preview shows one as
    ``<br>``, which has no text); for Markdown, whose rendering joins and trims lines, every
    run of whitespace as one space."""
    return _collapsed(text) if fmt == "md" else unbroken(text)


# --- Text files -------------------------------------------------------------------------------


@dataclass
class _TextFile:
    """A text file decoded as the preview decodes it: ``text`` with line ends as ``"\\n"`` and
    NULs gone, ``to_raw`` each of its positions (and its end) in ``raw``, the file as written."""

    raw: str
    bom: bool
    text: str
    to_raw: list[int]
    newline: str

    @classmethod
    def read(cls, data: bytes) -> _TextFile:
        if len(data) > MAX_TEXT_BYTES:
            raise PassageError(TOO_LONG)
        bom = data.startswith(b"\xef\xbb\xbf")
        try:
            raw = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PassageError(NOT_UTF8) from exc
        text: list[str] = []
        to_raw: list[int] = []
        index = 0
        while index < len(raw):
            character = raw[index]
            if character == "\x00":
                index += 1
                continue
            to_raw.append(index)
            if character == "\r":
                text.append("\n")
                index += 2 if raw.startswith("\r\n", index) else 1
                continue
            text.append(character)
            index += 1
        to_raw.append(len(raw))
        newline = "\r\n" if "\r\n" in raw else "\r" if "\r" in raw else "\n"
        return cls(raw, bom, "".join(text), to_raw, newline)

    def with_changes(self, changes: list[tuple[int, int, str]]) -> bytes:
        """The file with ``[a, b)`` of ``text`` replaced by each new text (``"\\n"`` written as
        the file's own line end); the changes must not overlap."""
        raw = self.raw
        for a, b, new in sorted(changes, key=lambda c: (c[0], c[1]), reverse=True):
            raw = raw[: self.to_raw[a]] + new.replace("\n", self.newline) + raw[self.to_raw[b] :]
        return (b"\xef\xbb\xbf" if self.bom else b"") + raw.encode("utf-8")


_BLANK_LINE = re.compile(r"\n\s*\n")


def _txt_units(text: str) -> list[tuple[int, int]]:
    """The paragraphs of a text file as ``convert_txt`` splits them: at blank lines, empty ones
    left out, each without the line ends around it."""
    units: list[tuple[int, int]] = []
    position = 0
    separators = list(_BLANK_LINE.finditer(text))
    for index in range(len(separators) + 1):
        end = separators[index].start() if index < len(separators) else len(text)
        start = position
        if text[start:end].strip():
            while start < end and text[start] == "\n":
                start += 1
            while end > start and text[end - 1] == "\n":
                end -= 1
            units.append((start, end))
        if index < len(separators):
            position = separators[index].end()
    return units


# The same parser as ``convert_md``'s (CommonMark, tables, strikethrough, links found in text;
# no raw HTML). A change here must follow the converter: the tests compare the two.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": True}).enable(
    ["table", "strikethrough", "linkify"]
)
_ANCHORED_TOKENS = frozenset(
    {"heading_open", "list_item_open", "fence", "code_block", "table_open"}
)


def _md_units(text: str) -> list[tuple[int, int]]:
    """Each block of a Markdown file that the preview anchors, in order, as the range of the
    source lines the parser read it from (blank lines after it left out)."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    units: list[tuple[int, int]] = []
    for token in _markdown.parse(text):
        anchored = token.type in _ANCHORED_TOKENS or (
            token.type == "paragraph_open" and not token.hidden
        )
        if not anchored or token.map is None:
            continue
        first, after = token.map
        while after > first + 1 and not lines[after - 1].strip():
            after -= 1
        units.append((starts[first], starts[after - 1] + len(lines[after - 1])))
    return units


def _units(fmt: str, text: str) -> list[tuple[int, int]]:
    return _md_units(text) if fmt == "md" else _txt_units(text)


_MD_ANYWHERE = re.compile(r"([\\`*_\[\]<&~|])")
_MD_LINE_MARK = re.compile(r"^([ \t]*)([-+=#>])", re.MULTILINE)
_MD_LINE_NUMBER = re.compile(r"^([ \t]*[0-9]+)([.)])", re.MULTILINE)


def markdown_source(text: str) -> str:
    """``text`` as Markdown that reads as ``text``: markup characters escaped, and a line that
    would start a heading, a quote or a list item escaped at its start."""
    escaped = _MD_ANYWHERE.sub(r"\\\1", text)
    escaped = _MD_LINE_MARK.sub(r"\1\\\2", escaped)
    return _MD_LINE_NUMBER.sub(r"\1\\\2", escaped)


def _rendered(fmt: str, data: bytes) -> list[Block]:
    """The blocks of ``data``'s preview, made by the preview's own converter (in this process:
    a text file's converter parses no XML and opens nothing but the file)."""
    with tempfile.TemporaryDirectory(prefix="commonroom-suggestion-") as work:
        source = Path(work) / f"file.{fmt}"
        source.write_bytes(data)
        result = converter_for(fmt)(source, Path(work))
    return [b for b in blocks_in(result.html) if not b.aside]


# --- Where a passage is -----------------------------------------------------------------------


def _document_blocks(blocks: Sequence[Block], block: Block) -> list[Block]:
    if block.aside:
        raise PassageError(
            "That is one of the Word file's own comments listed under the document, not its "
            "text: choose a passage of the document."
        )
    return [b for b in blocks if not b.aside]


def locate(
    fmt: str,
    data: bytes,
    blocks: Sequence[Block],
    block: Block,
    start: int,
    end: int,
    *,
    kind: str,
    text: str,
) -> Place:
    """Where ``[start, end)`` of ``usable_text(block)`` (one of ``blocks``, the preview of the
    version whose file is ``data``) is in the file (see the module), checked by making the
    change (``kind``, ``text``) on a copy: what cannot be applied is refused now, with the
    sentence an accept would give."""
    shown = usable_text(block)
    body = _document_blocks(blocks, block)
    index = next(i for i, b in enumerate(body) if b is block)

    def check(place: Place) -> Place:
        apply(fmt, data, [Edit(kind, place, shown, start, end, text)])
        return place

    if fmt == "docx":
        return check(_locate_docx(data, body, index, shown, start, end))
    if fmt not in FORMATS:
        raise PassageError("Suggestions cannot change this kind of file.")
    source = _TextFile.read(data)
    units = _units(fmt, source.text)
    if len(units) != len(body):
        raise PassageError(MISMATCH)
    texts = [source.text[a:b] for a, b in units]
    paragraph = texts[index]
    occurrence = texts[: index + 1].count(paragraph)
    if fmt == "txt":
        if unbroken(paragraph) != unbroken(shown):
            raise PassageError(MISMATCH)
        return check(Place(paragraph, occurrence, *map_range(shown, start, end, paragraph)))
    if kind == NEW_PARAGRAPH:
        return check(Place(paragraph, occurrence, 0, len(paragraph)))
    tried: list[tuple[int, int]] = []
    for a, b in _markdown_candidates(shown, start, end, paragraph):
        if (a, b) in tried:
            continue
        tried.append((a, b))
        try:
            return check(Place(paragraph, occurrence, a, b))
        except PassageError as exc:
            if exc.message not in (UNSAFE, MARKDOWN_UNMAPPED):
                raise
    raise PassageError(MARKDOWN_UNMAPPED)


_DELIMITERS = "*_~`"


def _markdown_candidates(shown: str, start: int, end: int, source: str) -> list[tuple[int, int]]:
    """Ranges of a Markdown block's ``source`` that may be the rendered ``[start, end)``, most
    likely first: the same text where it occurs as often in the source as in the rendered
    block; then the characters matched to the passage's first and last (difflib), with the
    emphasis and code marks around them or not. Each is only a guess until applying it gives
    the rendering suggested."""
    found: list[tuple[int, int]] = []
    passage = shown[start:end]
    in_block, in_source = _occurrences(shown, passage), _occurrences(source, passage)
    if len(in_block) == len(in_source) and start in in_block:
        a = in_source[in_block.index(start)]
        found.append((a, a + len(passage)))
    matched: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, shown, source, autojunk=False)
    for match in matcher.get_matching_blocks():
        for offset in range(match.size):
            matched[match.a + offset] = match.b + offset
    if start in matched and end - 1 in matched:
        a, b = matched[start], matched[end - 1] + 1
        wide_a, wide_b = a, b
        while wide_a > 0 and source[wide_a - 1] in _DELIMITERS:
            wide_a -= 1
        while wide_b < len(source) and source[wide_b] in _DELIMITERS:
            wide_b += 1
        found += [(a, b), (wide_a, wide_b), (wide_a, b), (a, wide_b)]
    return found


def _occurrences(text: str, passage: str) -> list[int]:
    found: list[int] = []
    at = text.find(passage)
    while at != -1 and passage:
        found.append(at)
        at = text.find(passage, at + 1)
    return found


def _locate_docx(
    data: bytes, body: list[Block], index: int, shown: str, start: int, end: int
) -> Place:
    key = unbroken(shown)
    same = [i for i, b in enumerate(body) if unbroken(usable_text(b)) == key]
    paragraphs = wordedit.paragraphs(data)
    matches = [i for i, p in enumerate(paragraphs) if unbroken(p) == key]
    if not matches:
        raise PassageError(NOT_IN_FILE)
    if len(matches) != len(same):
        raise PassageError(AMBIGUOUS)
    at = matches[same.index(index)]
    paragraph = paragraphs[at]
    occurrence = paragraphs[: at + 1].count(paragraph)
    a, b = map_range(shown, start, end, paragraph)
    return Place(paragraph, occurrence, a, b)


# --- The paragraphs of a file, for moving suggestions to a newer version ------------------------


def paragraphs(fmt: str, data: bytes) -> list[str]:
    """The paragraphs of ``data`` as :class:`Place` names them (for .md, blocks' source
    lines). Raises :class:`ApplicationError` when the file cannot be read as ``fmt``."""
    if fmt == "docx":
        return wordedit.paragraphs(data)
    if fmt not in FORMATS:
        raise PassageError("Suggestions cannot change this kind of file.")
    source = _TextFile.read(data)
    return [source.text[a:b] for a, b in _units(fmt, source.text)]


def still_in(place: Place, found: Sequence[str]) -> bool:
    """Whether the paragraph of ``place`` (its text, at its occurrence) is among ``found``."""
    return sum(1 for p in found if p == place.paragraph) >= place.occurrence


def _find(texts: list[str], place: Place) -> int:
    seen = 0
    for index, text in enumerate(texts):
        if text == place.paragraph:
            seen += 1
            if seen == place.occurrence:
                return index
    raise PassageError(
        f"The paragraph {quoted(place.paragraph)} is no longer in the file as it was when the "
        "suggestion was made, so it was not changed."
    )


# --- Applying ---------------------------------------------------------------------------------


def _range(edit: Edit) -> tuple[int, int]:
    """The range of the paragraph the edit replaces (an insertion is an empty one)."""
    if edit.kind == INSERT_BEFORE:
        return edit.place.start, edit.place.start
    if edit.kind == INSERT_AFTER:
        return edit.place.end, edit.place.end
    return edit.place.start, edit.place.end


def _shown_range(edit: Edit) -> tuple[int, int]:
    if edit.kind == INSERT_BEFORE:
        return edit.shown_start, edit.shown_start
    if edit.kind == INSERT_AFTER:
        return edit.shown_end, edit.shown_end
    return edit.shown_start, edit.shown_end


def _check_overlaps(paragraph: str, ranges: list[tuple[int, int, str]]) -> None:
    ordered = sorted(ranges)
    for (a1, b1, t1), (a2, b2, t2) in itertools.pairwise(ordered):
        overlap = a2 < b1 or (a1 == b1 == a2 == b2)
        if overlap or (t1 and t2 and a1 == a2):
            raise PassageError(OVERLAP.format(quoted(paragraph)))


def apply(fmt: str, data: bytes, edits: Sequence[Edit]) -> bytes:
    """``data`` with every edit made (see the module); refused whole, with a sentence, when one
    cannot be."""
    if fmt == "docx":
        return wordedit.apply(data, [_word_edit(edit) for edit in edits])
    if fmt not in FORMATS:
        raise PassageError("Suggestions cannot change this kind of file.")
    for edit in edits:
        if edit.text and _BLANK_LINE.search(edit.text):
            raise PassageError(ONE_PARAGRAPH)
    source = _TextFile.read(data)
    units = _units(fmt, source.text)
    texts = [source.text[a:b] for a, b in units]
    before = _rendered(fmt, data)
    if len(before) != len(units):
        raise PassageError(MISMATCH)
    plan = _Plan(fmt)
    for edit in edits:
        index = _find(texts, edit.place)
        if _key(fmt, usable_text(before[index])) != _key(fmt, edit.shown):
            raise PassageError(
                f"The paragraph {quoted(edit.shown)} no longer reads as it did when the "
                "suggestion was made, so it was not changed."
            )
        plan.add(edit, index, units[index])
    for index, ranges in plan.ranges.items():
        _check_overlaps(texts[index], ranges)
    result = source.with_changes(plan.changes)
    expected = plan.expected([usable_text(b) for b in before])
    after = [_key(fmt, usable_text(b)) for b in _rendered(fmt, result)]
    if after != expected:
        raise PassageError(UNSAFE)
    return result


@dataclass
class _Plan:
    fmt: str
    changes: list[tuple[int, int, str]] = field(default_factory=list)  # in the decoded text
    ranges: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)  # per paragraph
    shown: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)  # per block
    new: dict[int, list[str]] = field(default_factory=dict)  # new blocks after a block

    def add(self, edit: Edit, index: int, unit: tuple[int, int]) -> None:
        md = self.fmt == "md"
        text = markdown_source(edit.text) if md else edit.text
        if edit.kind == NEW_PARAGRAPH:
            self.changes.append((unit[1], unit[1], "\n\n" + text + ("\n" if md else "")))
            self.new.setdefault(index, []).append(edit.text)
            return
        a, b = _range(edit)
        self.changes.append((unit[0] + a, unit[0] + b, text))
        self.ranges.setdefault(index, []).append((a, b, edit.text))
        s, e = _shown_range(edit)
        self.shown.setdefault(index, []).append((s, e, edit.text))

    def expected(self, shown: list[str]) -> list[str]:
        """What each block of the changed file must say."""
        out: list[str] = []
        for index, text in enumerate(shown):
            for s, e, new in sorted(self.shown.get(index, []), reverse=True):
                text = text[:s] + new + text[e:]
            if index in self.shown and not text.strip():
                pass  # a paragraph whose every word is deleted is no longer a block
            else:
                out.append(_key(self.fmt, text))
            out.extend(_key(self.fmt, new) for new in self.new.get(index, []))
        return out


def word_edit(kind: str, place: Place, text: str) -> wordedit.Edit:
    """A suggestion (its ``kind``, its ``place`` in a Word file, its new ``text``) as the Word
    engine's edit."""
    return _word_edit(Edit(kind, place, "", 0, 0, text))


def _word_edit(edit: Edit) -> wordedit.Edit:
    place = edit.place
    if edit.kind == NEW_PARAGRAPH:
        return wordedit.NewParagraph(
            after=place.paragraph, text=edit.text, occurrence=place.occurrence
        )
    a, b = _range(edit)
    return wordedit.Change(
        paragraph=place.paragraph, start=a, end=b, text=edit.text, occurrence=place.occurrence
    )


# --- From the file to the preview (a stale copy's changes carried as suggestions) --------------


def block_of(fmt: str, data: bytes, blocks: Sequence[Block], index: int) -> Block:
    """The block of ``blocks`` (the preview of the version whose file is ``data``) that shows
    paragraph ``index`` of :func:`paragraphs`: the reverse of :func:`locate`, with the same
    rules (the n-th paragraph with a text is the n-th block with it; refused when they cannot
    be told apart)."""
    body = [b for b in blocks if not b.aside]
    found = paragraphs(fmt, data)
    if fmt != "docx":
        if len(found) != len(body):
            raise PassageError(MISMATCH)
        block = body[index]
        if fmt == "txt" and unbroken(found[index]) != unbroken(usable_text(block)):
            raise PassageError(MISMATCH)
        return block
    key = unbroken(found[index])
    matches = [i for i, p in enumerate(found) if unbroken(p) == key]
    same = [b for b in body if unbroken(usable_text(b)) == key]
    if not same:
        raise PassageError(NOT_IN_FILE)
    if len(matches) != len(same):
        raise PassageError(AMBIGUOUS)
    return same[matches.index(index)]


def shown_range(paragraph: str, start: int, end: int, shown: str) -> tuple[int, int]:
    """``[start, end)`` of a file's ``paragraph`` as a range of ``shown``, its block's text
    (the same once line breaks are left out of both): ``textmap.map_range`` the other way."""
    return map_range(paragraph, start, end, shown)


def rendered_texts(fmt: str, data: bytes) -> list[str]:
    """What each block of a text or Markdown file's preview says (:func:`usable_text`), made
    by the preview's own converter in this process."""
    return [usable_text(b) for b in _rendered(fmt, data)]
