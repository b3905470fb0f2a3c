"""Comparing two versions: pure functions over what their previews hold.

Documents (.docx, .txt, .md): the paragraphs are the preview's blocks carrying ``id="p-<n>"``
(each block's own text; a block inside another is its own paragraph). Paragraphs are matched
first (difflib over whole paragraphs): a deleted paragraph whose text is inserted elsewhere is a
move; a deleted paragraph replaced by a similar one is "changed" and its words are compared.

Workbooks (.xlsx): the cells are read from the preview's tables, which the converter made in the
sandbox with its caps (the first 200 rows and 50 columns of each sheet, each cut said in the
preview's notes), so a hostile workbook is never parsed in the web process.

Everything here returns plain text in data structures; templates escape it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from html.parser import HTMLParser

from openpyxl.utils import get_column_letter

from commonroom.previews.html import ANCHORED

SIMILAR = 0.4  # a replaced paragraph at least this similar is shown as changed, word by word
SIMILAR_CHARACTERS = 0.6  # or at least this similar letter by letter (a figure: -590 to -690)
SHORT = 300  # characters: longer paragraphs are not compared letter by letter
MAX_PARAGRAPHS = 5_000  # compared per version (the beginning of a longer one, with a note)
MAX_WORDS = 200_000
EXACT_WORD_PAIRS = 1_000_000
MAX_WORD_PAIRS = 25_000_000  # longer paragraph pairs are shown as removed and added, not redlined
MAX_CELLS_SHOWN = 2_000


# --- reading previews ---------------------------------------------------------------------------


class _Blocks(HTMLParser):
    """The text of each anchored block, in order; text of a nested anchored block is its own."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, list[str] | None]] = []
        self.blocks: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"br", "img", "hr", "col", "input", "wbr"}:
            if tag == "br":
                self.handle_data(" ")
            return
        anchored = tag in ANCHORED and any(
            k == "id" and (v or "").startswith("p-") for k, v in attrs
        )
        if anchored:
            parts: list[str] = []
            self.blocks.append(parts)
            self.stack.append((tag, parts))
        else:
            self.stack.append((tag, None))
        if tag in {"td", "th", "li", "p", "div"}:
            self.handle_data(" ")

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        for _tag, parts in reversed(self.stack):
            if parts is not None:
                parts.append(data)
                return


def paragraphs_from_html(html: str) -> list[str]:
    """The paragraphs of a preview's sanitised HTML, whitespace collapsed, empty ones left out."""
    parser = _Blocks()
    parser.feed(html)
    parser.close()
    found = (" ".join("".join(parts).split()) for parts in parser.blocks)
    return [p for p in found if p]


class _Sheets(HTMLParser):
    """Sheets of a workbook preview: ``<section><h2>title</h2><table>`` rows of
    ``<th scope=row>n</th><td>…``; cells numbered from column A."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sheets: dict[str, dict[tuple[int, int], str]] = {}
        self.order: list[str] = []
        self.current: dict[tuple[int, int], str] | None = None
        self.in_title = False
        self.title: list[str] = []
        self.in_body = False
        self.row = 0
        self.column = 0
        self.cell: list[str] | None = None
        self.row_head: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self.in_title, self.title = True, []
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.row, self.column = self.row + 1, 0
        elif tag == "th" and self.in_body:
            self.row_head = []
        elif tag == "td" and self.in_body:
            self.column += 1
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self.in_title:
            self.in_title = False
            name = " ".join("".join(self.title).split())
            base, n = name, 1
            while name in self.sheets:
                n += 1
                name = f"{base} ({n})"
            self.current = self.sheets[name] = {}
            self.order.append(name)
            self.row = 0
        elif tag == "tbody":
            self.in_body = False
        elif tag == "th" and self.row_head is not None:
            text = "".join(self.row_head).strip()
            if text.isdigit():
                self.row = int(text)
            self.row_head = None
        elif tag == "td" and self.cell is not None:
            value = "".join(self.cell)
            if value and self.current is not None:
                self.current[(self.row, self.column)] = value
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif self.cell is not None:
            self.cell.append(data)
        elif self.row_head is not None:
            self.row_head.append(data)


def sheets_from_html(html: str) -> dict[str, dict[tuple[int, int], str]]:
    """Sheet title -> {(row, column): text} of the non-empty cells, in the workbook's order."""
    parser = _Sheets()
    parser.feed(html)
    parser.close()
    return {name: parser.sheets[name] for name in parser.order}


# --- documents ----------------------------------------------------------------------------------


@dataclass
class Segment:
    op: str  # "same", "ins" or "del"
    text: str


@dataclass
class Block:
    kind: str  # "same", "changed", "inserted", "deleted", "moved_from", "moved_to"
    segments: list[Segment]
    move: int = 0  # moved_from/moved_to: the move's number (1, 2…), to link the two places

    @property
    def left(self) -> list[Segment]:
        """What the older version had (side by side)."""
        return [s for s in self.segments if s.op != "ins"]

    @property
    def right(self) -> list[Segment]:
        """What the newer version has (side by side)."""
        return [s for s in self.segments if s.op != "del"]

    @property
    def in_old(self) -> bool:
        return self.kind not in {"inserted", "moved_to"}

    @property
    def in_new(self) -> bool:
        return self.kind not in {"deleted", "moved_from"}

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "move": self.move,
            "segments": [{"op": s.op, "text": s.text} for s in self.segments],
        }


@dataclass
class TextDiff:
    blocks: list[Block] = field(default_factory=list)
    words_added: int = 0
    words_removed: int = 0
    paragraphs_changed: int = 0
    paragraphs_moved: int = 0
    cut: bool = False  # a version was longer than MAX_PARAGRAPHS / MAX_WORDS: its start compared

    @property
    def changed(self) -> bool:
        return bool(self.paragraphs_changed or self.paragraphs_moved)

    @property
    def summary(self) -> str:
        if not self.changed:
            return "No changes"
        parts = []
        if self.paragraphs_changed:
            parts.append(
                f"{_n(self.words_added, 'word')} added, {self.words_removed:,} removed "
                f"in {_n(self.paragraphs_changed, 'paragraph')}"
            )
        if self.paragraphs_moved:
            parts.append(f"{_n(self.paragraphs_moved, 'paragraph')} moved")
        return "; ".join(parts)


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _words_diff(old: str, new: str) -> list[Segment]:
    a, b = old.split(), new.split()
    segments: list[Segment] = []
    # Common words are not skipped unless the pair is long (autojunk keeps the work bounded).
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=len(a) * len(b) > EXACT_WORD_PAIRS)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            segments.append(Segment("same", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            segments.append(Segment("del", " ".join(a[i1:i2])))
        if j2 > j1:
            segments.append(Segment("ins", " ".join(b[j1:j2])))
    return segments


def _changed(old: str, new: str) -> list[Segment] | None:
    """The word-level changes when ``old`` and ``new`` are worth showing as one changed
    paragraph (enough words in common or, for a short one such as a figure in a table, enough
    letters); ``None`` when they are better shown as one removed and one added."""
    a, b = len(old.split()), len(new.split())
    if a * b > MAX_WORD_PAIRS:
        return None
    segments = _words_diff(old, new)
    same = sum(len(s.text.split()) for s in segments if s.op == "same")
    if 2 * same / max(a + b, 1) >= SIMILAR:
        return segments
    short = max(len(old), len(new)) <= SHORT
    if short and difflib.SequenceMatcher(None, old, new).ratio() >= SIMILAR_CHARACTERS:
        return segments
    return None


def _bounded(paragraphs: list[str]) -> tuple[list[str], bool]:
    """The first paragraphs, up to MAX_PARAGRAPHS and MAX_WORDS; whether some were left out."""
    kept: list[str] = []
    words = 0
    for paragraph in paragraphs:
        words += len(paragraph.split())
        if len(kept) >= MAX_PARAGRAPHS or words > MAX_WORDS:
            return kept, True
        kept.append(paragraph)
    return kept, False


def diff_paragraphs(old: list[str], new: list[str]) -> TextDiff:
    """The word-level redline from paragraphs ``old`` to ``new``."""
    old, old_cut = _bounded([" ".join(p.split()) for p in old if p.strip()])
    new, new_cut = _bounded([" ".join(p.split()) for p in new if p.strip()])
    if old_cut and new_cut:  # both cut: compare the same stretch of each
        old = old[: min(len(old), len(new))]
        new = new[: len(old)]
    opcodes = difflib.SequenceMatcher(None, old, new).get_opcodes()
    # Moves: a removed paragraph whose exact text is added elsewhere (each used once).
    added_at: dict[str, list[int]] = {}
    for tag, _i1, _i2, j1, j2 in opcodes:
        if tag in {"insert", "replace"}:
            for j in range(j1, j2):
                added_at.setdefault(new[j], []).append(j)
    moved_old: dict[int, int] = {}  # old index -> move number
    moved_new: dict[int, int] = {}
    for tag, i1, i2, _j1, _j2 in opcodes:
        if tag in {"delete", "replace"}:
            for i in range(i1, i2):
                spots = added_at.get(old[i])
                if spots:
                    number = len(moved_old) + 1
                    moved_old[i] = number
                    moved_new[spots.pop(0)] = number
    result = TextDiff(paragraphs_moved=len(moved_old), cut=old_cut or new_cut)

    def removed(i: int) -> None:
        if i in moved_old:
            result.blocks.append(Block("moved_from", [Segment("del", old[i])], moved_old[i]))
            return
        result.blocks.append(Block("deleted", [Segment("del", old[i])]))
        result.words_removed += len(old[i].split())
        result.paragraphs_changed += 1

    def added(j: int) -> None:
        if j in moved_new:
            result.blocks.append(Block("moved_to", [Segment("ins", new[j])], moved_new[j]))
            return
        result.blocks.append(Block("inserted", [Segment("ins", new[j])]))
        result.words_added += len(new[j].split())
        result.paragraphs_changed += 1

    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            result.blocks.extend(Block("same", [Segment("same", p)]) for p in old[i1:i2])
            continue
        olds = [i for i in range(i1, i2) if i not in moved_old]
        news = [j for j in range(j1, j2) if j not in moved_new]
        pairs: dict[int, tuple[int, list[Segment]]] = {}  # old index -> (new index, changes)
        for i, j in zip(olds, news, strict=False):
            changes = _changed(old[i], new[j])
            if changes is not None:
                pairs[i] = (j, changes)
        paired_new = {j for j, _ in pairs.values()}
        pending_new = [j for j in range(j1, j2) if j not in paired_new]
        for i in range(i1, i2):
            if i in pairs:
                j, segments = pairs[i]
                while pending_new and pending_new[0] < j:  # added before this one
                    added(pending_new.pop(0))
                result.blocks.append(Block("changed", segments))
                result.words_added += sum(len(s.text.split()) for s in segments if s.op == "ins")
                result.words_removed += sum(len(s.text.split()) for s in segments if s.op == "del")
                result.paragraphs_changed += 1
            else:
                removed(i)
        for j in pending_new:
            added(j)
    return result


# --- workbooks ----------------------------------------------------------------------------------


@dataclass
class CellChange:
    ref: str  # "B7"
    old: str
    new: str

    @property
    def kind(self) -> str:
        return "added" if not self.old else "removed" if not self.new else "changed"


@dataclass
class SheetChanges:
    name: str
    kind: str  # "changed", "added", "removed"
    cells: list[CellChange] = field(default_factory=list)
    cell_count: int = 0  # all changed cells (``cells`` holds at most MAX_CELLS_SHOWN in all)


@dataclass
class SheetDiff:
    sheets: list[SheetChanges] = field(default_factory=list)
    cut: bool = False  # more changed cells than shown

    @property
    def cells_changed(self) -> int:
        return sum(s.cell_count for s in self.sheets if s.kind == "changed")

    @property
    def changed(self) -> bool:
        return bool(self.sheets)

    @property
    def summary(self) -> str:
        if not self.sheets:
            return "No changes"
        parts = []
        changed = [s for s in self.sheets if s.kind == "changed"]
        if changed:
            parts.append(f"{_n(self.cells_changed, 'cell')} changed in {_n(len(changed), 'sheet')}")
        for kind in ("added", "removed"):
            count = sum(1 for s in self.sheets if s.kind == kind)
            if count:
                parts.append(f"{_n(count, 'sheet')} {kind}")
        return "; ".join(parts)

    def sheet_dicts(self) -> list[dict[str, object]]:
        return [
            {
                "name": s.name,
                "kind": s.kind,
                "cell_count": s.cell_count,
                "cells": [{"ref": c.ref, "old": c.old, "new": c.new} for c in s.cells],
            }
            for s in self.sheets
        ]


def diff_sheets(
    old: dict[str, dict[tuple[int, int], str]], new: dict[str, dict[tuple[int, int], str]]
) -> SheetDiff:
    """Cell by cell, sheets matched by name (added and removed sheets are named, not listed)."""
    result = SheetDiff()
    shown = 0
    for name in list(old) + [n for n in new if n not in old]:
        if name not in new:
            result.sheets.append(SheetChanges(name, "removed"))
            continue
        if name not in old:
            result.sheets.append(SheetChanges(name, "added"))
            continue
        a, b = old[name], new[name]
        keys = sorted(set(a) | set(b), key=lambda rc: (rc[0], rc[1]))
        changes = SheetChanges(name, "changed")
        for row, column in keys:
            before, after = a.get((row, column), ""), b.get((row, column), "")
            if before == after:
                continue
            changes.cell_count += 1
            if shown < MAX_CELLS_SHOWN:
                changes.cells.append(CellChange(f"{get_column_letter(column)}{row}", before, after))
                shown += 1
            else:
                result.cut = True
        if changes.cell_count:
            result.sheets.append(changes)
    return result
