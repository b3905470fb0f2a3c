"""Comparing two versions: pure functions over what their previews hold.

Documents (.docx, .txt, .md): the paragraphs are the preview's blocks carrying ``id="p-<n>"``
(each block's own text; a block inside another is its own paragraph). Paragraphs are matched
first (difflib over whole paragraphs): a deleted paragraph whose text is inserted elsewhere is a
move; a deleted paragraph replaced by a similar one is "changed" and its words are compared; a
deleted paragraph and one inserted elsewhere that are alike enough are one paragraph moved and
edited (shown moved, its words compared). Finding those is bounded (see ``_edited_moves``).

Presentations (.pptx): the slides are the preview's sections (title, text, speaker notes).
Slides are matched as paragraphs are (``_align``: the same matching), then each matched slide's
paragraphs are compared as a document's.

Workbooks (.xlsx) and CSV files: the cells are read from the preview's tables, which the
converter made in the sandbox with its caps (for a workbook the first 200 rows and 50 columns of
each sheet, for a CSV file the first 500 rows and 200 columns, each cut said in the preview's
notes), so a hostile file is never parsed in the web process. Each sheet's rows are aligned
first (a row added or removed is one row, not every cell below it changed), then the cells of the
rows paired are compared one by one; columns are compared by position (see ``diff_sheets``).

Everything here returns plain text in data structures; templates escape it.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from typing import TypeVar

from commonroom.previews.html import ANCHORED

SIMILAR = 0.4  # a replaced paragraph at least this similar is shown as changed, word by word
SIMILAR_CHARACTERS = 0.6  # or at least this similar letter by letter (a figure: -590 to -690)
SIMILAR_MOVED = 0.6  # a removed and an added paragraph elsewhere this similar: moved and edited
SHORT = 300  # characters: longer paragraphs are not compared letter by letter
MAX_PARAGRAPHS = 5_000  # compared per version (the beginning of a longer one, with a note)
MAX_WORDS = 200_000
EXACT_WORD_PAIRS = 1_000_000
MAX_WORD_PAIRS = 25_000_000  # longer paragraph pairs are shown as removed and added, not redlined
# Looking for paragraphs moved and edited (``_edited_moves``):
MOVE_CANDIDATES = 3  # added paragraphs compared with each removed one (those sharing most words)
COMMON_WORD = 50  # a word in more added paragraphs than this does not tell them apart
MAX_MOVE_PAIRS = 2_000  # pairs compared word by word, in all
MAX_MOVE_WORDS = 400_000  # words in the pairs compared, in all
MAX_INDEX_STEPS = 1_000_000  # entries of the word index read, in all
MAX_CELLS_SHOWN = 2_000  # changed cells shown, added and removed rows' cells included
MAX_ROW_PAIRS = 20_000  # row pairs weighed to pair a replaced stretch's rows, per comparison
MAX_GRID_COLUMNS = 50  # a document's table shown as a table up to this many columns

_Item = TypeVar("_Item")


# --- reading previews ---------------------------------------------------------------------------


LABEL_CHARACTERS = 80  # a table cell's row or column named by at most this much of its text


@dataclass(frozen=True)
class Style:
    """What a paragraph is in its document, to show it as such (never used to match paragraphs).

    ``name``: "paragraph"; "heading" (``level`` 1-6); "list" (a list item: ``level`` its depth
    from 1, ``ordered`` in a numbered list); "cell" (a paragraph of a table cell: ``row`` the text
    of its row's first cell and ``column`` that of its column's cell in the first row, each left
    empty when there is none or it is the cell itself); "table" (a table read as one paragraph, as
    in a Markdown file); "quote"; "code"."""

    name: str = "paragraph"
    level: int = 0
    ordered: bool = False
    row: str = ""
    column: str = ""
    # A table cell's place, to show a table's changes as a table: which table of its version
    # (1, 2… in order), and its row and column there (from 0, spans counted). Not compared.
    table: int = field(default=0, compare=False)
    at_row: int = field(default=-1, compare=False)
    at_column: int = field(default=-1, compare=False)

    @property
    def css(self) -> str:
        """Its classes on the page (app.css): "cr-compare-style--list cr-compare-depth--2"."""
        depth = f" cr-compare-depth--{min(self.level, 6)}" if self.name == "list" else ""
        return f"cr-compare-style--{self.name}{depth if self.level > 1 else ''}"

    @property
    def label(self) -> str:
        """Where a table's paragraph is, e.g. "Table · Medicine · Actual (£k)"; "" otherwise."""
        if self.name not in {"cell", "table"}:
            return ""
        return " · ".join(["Table", *(name for name in (self.row, self.column) if name)])

    def as_dict(self) -> dict[str, object]:
        """The API's optional fields of a block: none for a plain paragraph; ``style``, and
        ``level`` (heading, list item), ``ordered`` (list item), ``context`` (a table cell:
        ``row`` and ``column`` when known)."""
        if self.name == "paragraph":
            return {}
        found: dict[str, object] = {"style": self.name}
        if self.name in {"heading", "list"}:
            found["level"] = self.level
        if self.name == "list":
            found["ordered"] = self.ordered
        context = {k: v for k, v in (("row", self.row), ("column", self.column)) if v}
        if context:
            found["context"] = context
        return found


PLAIN = Style()


@dataclass
class Paragraph:
    """A paragraph of a document's preview: its text (whitespace collapsed) and what it is."""

    text: str
    style: Style = PLAIN


def _label(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > LABEL_CHARACTERS:
        return text[: LABEL_CHARACTERS - 1].rstrip() + "…"
    return text


_SPAN = re.compile(r"[0-9]{1,4}")  # the sanitiser keeps no other colspan or rowspan


def _span(attrs: list[tuple[str, str | None]], name: str) -> int:
    value = dict(attrs).get(name) or ""
    return max(1, int(value)) if _SPAN.fullmatch(value) else 1


class _Cell:
    """A table cell being read: its text, kept (shortened) when it ends."""

    def __init__(self, row: int, column: int) -> None:
        self.row, self.column = row, column
        self.parts: list[str] = []
        self.text = ""

    def close(self) -> None:
        self.text, self.parts = _label("".join(self.parts)), []


class _Grid:
    """Where a table's cells are, to name a cell by its row's first cell and its column's cell in
    the first row: columns counted with ``colspan``, cells of earlier rows' ``rowspan`` skipped.
    Bounded whatever the spans say: a span is two numbers, never a cell per place it covers."""

    def __init__(self, number: int = 0) -> None:
        self.number = number  # which table of the document (1, 2…)
        self.row = -1
        self.column = 0
        self.spans: dict[int, tuple[int, int, _Cell]] = {}  # start -> (end, last row, cell)
        self.first: _Cell | None = None  # the current row's cell in column 1
        self.heads: list[tuple[int, int, _Cell]] = []  # the first row's (start, end, cell)

    def next_row(self) -> None:
        self.row, self.column, self.first = self.row + 1, 0, None
        above = self.spans.get(0)
        if above is not None and above[1] >= self.row:
            self.first = above[2]

    def cell(self, attrs: list[tuple[str, str | None]]) -> _Cell:
        if self.row < 0:
            self.next_row()
        while (above := self.spans.get(self.column)) is not None and above[1] >= self.row:
            self.column = above[0]
        found = _Cell(self.row, self.column)
        end = self.column + _span(attrs, "colspan")
        rows = _span(attrs, "rowspan")
        if rows > 1:
            self.spans[self.column] = (end, self.row + rows - 1, found)
        if self.column == 0:
            self.first = found
        if self.row == 0:
            self.heads.append((self.column, end, found))
        self.column = end
        return found

    def head(self, column: int) -> _Cell | None:
        at = bisect.bisect_right(self.heads, column, key=lambda h: h[0]) - 1
        return self.heads[at][2] if at >= 0 and column < self.heads[at][1] else None


@dataclass
class _Open:
    tag: str
    parts: list[str] | None = None  # an anchored block's text
    cell: _Cell | None = None  # a td or th
    grid: _Grid | None = None  # a table


class _Blocks(HTMLParser):
    """The text of each anchored block, in order; text of a nested anchored block is its own.
    Each block's style is read from where it stands (``Style``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[_Open] = []
        self.blocks: list[tuple[list[str], Style]] = []
        self.tables = 0

    def _style(self, tag: str) -> Style:
        """The style of a block opening with ``tag`` here."""
        for index in range(len(self.stack) - 1, -1, -1):
            opened = self.stack[index]
            if opened.grid is not None:
                break  # in a table but not in a cell of it (its caption)
            if opened.cell is not None:
                cell = opened.cell
                grid = next(o.grid for o in reversed(self.stack[:index]) if o.grid is not None)
                first = grid.first if cell.column > 0 else None
                head = grid.head(cell.column) if cell.row > 0 else None
                row = first.text if first is not None and first is not cell else ""
                column = head.text if head is not None and head is not cell else ""
                return Style(
                    "cell",
                    row=row,
                    column=column,
                    table=grid.number,
                    at_row=cell.row,
                    at_column=cell.column,
                )
        if tag == "table":
            return Style("table")
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            return Style("heading", level=int(tag[1]))
        lists = [o.tag for o in self.stack if o.tag in {"ul", "ol"}]
        if tag == "li" or any(o.tag == "li" for o in self.stack):
            return Style("list", level=max(len(lists), 1), ordered=lists[-1:] == ["ol"])
        if tag == "pre" or any(o.tag == "pre" for o in self.stack):
            return Style("code")
        if any(o.tag == "blockquote" for o in self.stack):
            return Style("quote")
        return PLAIN

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"br", "img", "hr", "col", "input", "wbr"}:
            if tag == "br":
                self.handle_data(" ")
            return
        anchored = tag in ANCHORED and any(
            k == "id" and (v or "").startswith("p-") for k, v in attrs
        )
        opened = _Open(tag)
        if anchored:
            opened.parts = []
            self.blocks.append((opened.parts, self._style(tag)))
        grid = next((o.grid for o in reversed(self.stack) if o.grid is not None), None)
        if tag == "table":
            self.tables += 1
            opened.grid = _Grid(self.tables)
        elif tag == "tr" and grid is not None:
            grid.next_row()
        elif tag in {"td", "th"} and grid is not None:
            opened.cell = grid.cell(attrs)
        self.stack.append(opened)
        if tag in {"td", "th", "li", "p", "div"}:
            self.handle_data(" ")

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index].tag == tag:
                for opened in self.stack[index:]:
                    if opened.cell is not None:
                        opened.cell.close()
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        block = cell = False
        for opened in reversed(self.stack):
            if not block and opened.parts is not None:
                opened.parts.append(data)
                block = True
            if not cell and opened.cell is not None:
                opened.cell.parts.append(data)
                cell = True
            if block and cell:
                return


def blocks_from_html(html: str) -> list[Paragraph]:
    """The paragraphs of a preview's sanitised HTML with their styles, whitespace collapsed,
    empty ones left out."""
    parser = _Blocks()
    parser.feed(html)
    parser.close()
    found = []
    for parts, style in parser.blocks:
        text = " ".join("".join(parts).split())
        if not text:
            continue
        if style.name == "cell" and _label(text) in {style.row, style.column}:
            own = _label(text)  # a row or column named by this very text says nothing more
            row, column = ("" if n == own else n for n in (style.row, style.column))
            style = replace(style, row=row, column=column)
        found.append(Paragraph(text, style))
    return found


class _Sheets(HTMLParser):
    """The cells of a preview's tables. A workbook's sheets: ``<section><h2>title</h2><table>``,
    a head row of column letters (``<th scope=col>``), then rows of ``<th scope=row>n</th><td>…``.
    A CSV file's one table, under no title: every row is a line of the file, its first (in
    ``<th>``) too. Rows are numbered by their ``<th scope=row>`` if they have one, else counted;
    columns from A."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sheets: dict[str, dict[tuple[int, int], str]] = {}
        self.current: dict[tuple[int, int], str] | None = None
        self.title: list[str] | None = None
        self.row = 0
        self.column = 0
        self.cell: list[str] | None = None
        self.row_head: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        scope = dict(attrs).get("scope")
        if tag == "h2":
            self.title = []
        elif tag == "tr":
            self.row, self.column = self.row + 1, 0
        elif tag == "th" and scope == "row":
            self.row_head = []
        elif tag == "td" or (tag == "th" and scope is None):
            self.column += 1
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self.title is not None:
            name = " ".join("".join(self.title).split())
            base, n = name, 1
            while name in self.sheets:
                n += 1
                name = f"{base} ({n})"
            self.current = self.sheets[name] = {}
            self.title, self.row = None, 0
        elif tag == "th" and self.row_head is not None:
            text = "".join(self.row_head).strip()
            if text.isdigit():
                self.row = int(text)
            self.row_head = None
        elif tag in {"td", "th"} and self.cell is not None:
            value = "".join(self.cell)
            if value:
                if self.current is None:  # a table under no title: a CSV file's
                    self.current = self.sheets[""] = {}
                self.current[(self.row, self.column)] = value
            self.cell = None

    def handle_data(self, data: str) -> None:
        for parts in (self.title, self.cell, self.row_head):
            if parts is not None:
                parts.append(data)
                return


def sheets_from_html(html: str) -> dict[str, dict[tuple[int, int], str]]:
    """Sheet title -> {(row, column): text} of the non-empty cells, in the workbook's order."""
    parser = _Sheets()
    parser.feed(html)
    parser.close()
    return parser.sheets


def table_from_html(html: str) -> dict[tuple[int, int], str]:
    """{(row, column): text} of the non-empty cells of a CSV preview's table, rows numbered as
    the file's lines (the first line is row 1) and columns from A."""
    return sheets_from_html(html).get("", {})


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
    style: Style = PLAIN  # the paragraph's in the newer version; the older's if it is not there

    @property
    def tag(self) -> str:
        """The element the paragraph is shown in, inline: a document's h1-h6 two levels below,
        under the page's own h1 and h2 (as on the document's page); a list item in its run's
        list (``TextDiff.runs``)."""
        if self.style.name == "heading":
            return f"h{min(6, self.style.level + 2)}"
        return {"list": "li", "quote": "blockquote"}.get(self.style.name, "p")

    @property
    def side_tags(self) -> tuple[str, str]:
        """The elements of the older and the newer column, side by side. A heading is a heading
        in one column only, so the page's outline has it once: the older one when the paragraph
        is unchanged (the column a phone shows) or gone, else the newer one."""
        if self.style.name != "heading":
            return self.tag, self.tag
        older = self.kind == "same" or not self.in_new
        return (self.tag, "p") if older else ("p", self.tag)

    @property
    def left(self) -> list[Segment]:
        """What the older version had (side by side)."""
        return [s for s in self.segments if s.op != "ins"]

    @property
    def right(self) -> list[Segment]:
        """What the newer version has (side by side)."""
        return [s for s in self.segments if s.op != "del"]

    @property
    def new_side(self) -> list[Segment]:
        """What the newer version's column shows side by side: its text and, for a paragraph
        moved here and edited, the words removed too (its old place is another row)."""
        return self.segments if self.kind == "moved_to" else self.right

    @property
    def edited(self) -> bool:
        """A moved paragraph whose words changed too (an exact move is one whole insertion)."""
        return self.kind == "moved_to" and any(s.op != "ins" for s in self.segments)

    @property
    def in_old(self) -> bool:
        return self.kind not in {"inserted", "moved_to"}

    @property
    def in_new(self) -> bool:
        return self.kind not in {"deleted", "moved_from"}

    def as_dict(self) -> dict[str, object]:
        """``kind``, ``move``, ``segments``, and the paragraph's ``style`` unless it is a plain
        paragraph (``Style.as_dict``)."""
        return {
            "kind": self.kind,
            "move": self.move,
            "segments": [{"op": s.op, "text": s.text} for s in self.segments],
            **self.style.as_dict(),
        }


@dataclass
class Run:
    """Blocks shown together: the items of one list (``kind`` "list", in one ``<ul>``, or
    ``<ol>`` if ``ordered``), the paragraphs of one table's cells ("table"), or one other block
    ("")."""

    kind: str
    blocks: list[Block]
    ordered: bool = False

    @property
    def grid(self) -> list[list[list[Block]]]:
        """A table's run as its table: rows of cells, each cell the blocks (paragraphs) in it, in
        order; a cell no paragraph of the comparison is in is empty. Each block stands where its
        paragraph is in the newer version (in the older one for a paragraph only it has), so a
        cell whose text was replaced holds the removed and the added paragraph. Empty when the
        run is not a table's, its cells' places are not known, or it is wider than
        ``MAX_GRID_COLUMNS``."""
        if self.kind != "table" or any(b.style.at_row < 0 for b in self.blocks):
            return []
        rows: dict[tuple[int, int], dict[int, list[Block]]] = {}
        width = 0
        for block in self.blocks:
            style = block.style
            row = rows.setdefault((style.table, style.at_row), {})
            row.setdefault(style.at_column, []).append(block)
            width = max(width, style.at_column + 1)
        if width > MAX_GRID_COLUMNS:
            return []  # shown paragraph by paragraph, each saying where it stands
        return [[row.get(column, []) for column in range(width)] for row in rows.values()]


@dataclass
class TextDiff:
    blocks: list[Block] = field(default_factory=list)
    words_added: int = 0
    words_removed: int = 0
    paragraphs_changed: int = 0  # with words added or removed (an edited move counts here too)
    paragraphs_moved: int = 0  # exactly or edited
    cut: bool = False  # a version was longer than MAX_PARAGRAPHS / MAX_WORDS: its start compared
    anchor: str = ""  # what the page's ids of this diff's moves start with (unique on the page)

    @property
    def changed(self) -> bool:
        return bool(self.paragraphs_changed or self.paragraphs_moved)

    @property
    def runs(self) -> list[Run]:
        """The blocks in order, a list's items (of one kind, numbered or not) and a table's cells
        grouped, so the page can show a run of list items as one list."""
        runs: list[Run] = []
        for block in self.blocks:
            style = block.style
            kind = {"list": "list", "cell": "table"}.get(style.name, "")
            last = runs[-1] if runs else None
            same_table = kind != "table" or (last and last.blocks[-1].style.table == style.table)
            if kind and last and last.kind == kind and last.ordered == style.ordered and same_table:
                last.blocks.append(block)
            else:
                runs.append(Run(kind, [block], style.ordered))
        return runs

    @property
    def summary(self) -> str:
        if not self.changed:
            return "No changes"
        parts = []
        if self.paragraphs_changed:
            parts.append(
                _words_changed(self.words_added, self.words_removed, self.paragraphs_changed)
            )
        if self.paragraphs_moved:
            parts.append(f"{_n(self.paragraphs_moved, 'paragraph')} moved")
        return "; ".join(parts)


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _words_changed(added: int, removed: int, within: int, unit: str = "paragraph") -> str:
    """E.g. "3 words added, 1 removed in 2 paragraphs" (a document's or a deck's summary)."""
    return f"{_n(added, 'word')} added, {removed:,} removed in {_n(within, unit)}"


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


def _count(segments: list[Segment], op: str) -> int:
    return sum(len(s.text.split()) for s in segments if s.op == op)


def _changed(old: str, new: str) -> list[Segment] | None:
    """The word-level changes when ``old`` and ``new`` are worth showing as one changed
    paragraph (enough words in common or, for a short one such as a figure in a table, enough
    letters); ``None`` when they are better shown as one removed and one added."""
    a, b = len(old.split()), len(new.split())
    if a * b > MAX_WORD_PAIRS:
        return None
    segments = _words_diff(old, new)
    if 2 * _count(segments, "same") / max(a + b, 1) >= SIMILAR:
        return segments
    short = max(len(old), len(new)) <= SHORT
    if short and difflib.SequenceMatcher(None, old, new).ratio() >= SIMILAR_CHARACTERS:
        return segments
    return None


def _moved_changes(old: str, new: str) -> tuple[float, list[Segment]] | None:
    """How alike ``old`` and ``new`` are and their word changes, when they are alike enough to
    be one paragraph moved and edited (SIMILAR_MOVED, words only: out of place, a short figure
    that merely looks like another is not taken for it)."""
    a, b = old.split(), new.split()
    if not a or not b or len(a) * len(b) > MAX_WORD_PAIRS:
        return None
    # quick_ratio counts the words in common whatever their order: an upper bound, in linear time.
    if difflib.SequenceMatcher(None, a, b, autojunk=False).quick_ratio() < SIMILAR_MOVED:
        return None
    segments = _words_diff(old, new)
    ratio = 2 * _count(segments, "same") / (len(a) + len(b))
    return (ratio, segments) if ratio >= SIMILAR_MOVED else None


def _edited_moves(
    old: Sequence[str], new: Sequence[str], removed: list[int], added: list[int]
) -> list[tuple[int, int, list[Segment]]]:
    """Pairs (old index, new index, word changes) of a removed and an added item alike enough to
    be one item moved and edited, each index in at most one pair, the most alike first.

    Bounded, whatever the number of items: an index of the added items' words (a word in more
    than COMMON_WORD of them tells nothing and is left out) gives each removed item its
    MOVE_CANDIDATES added items sharing the most words (and of a length that could be alike
    enough), so no removed item is compared with every added one; at most MAX_MOVE_PAIRS pairs
    and MAX_MOVE_WORDS words are compared in all, and the index is read at most MAX_INDEX_STEPS
    times. Past a limit, the rest stay removed and added."""
    if not removed or not added:
        return []
    index: dict[str, list[int]] = {}
    lengths: dict[int, int] = {}
    for j in added:
        words = new[j].split()
        lengths[j] = len(words)
        for word in {w.lower() for w in words}:
            index.setdefault(word, []).append(j)
    candidates: list[tuple[int, list[int]]] = []  # removed item, its added ones (most shared)
    steps = 0
    for i in removed:
        if steps > MAX_INDEX_STEPS:
            break
        a = len(old[i].split())
        shared: Counter[int] = Counter()
        for word in {w.lower() for w in old[i].split()}:
            spots = index.get(word)
            if spots is not None and len(spots) <= COMMON_WORD:
                steps += len(spots)
                shared.update(spots)
        best: list[int] = []
        for j, _ in shared.most_common():
            b = lengths[j]
            if 2 * min(a, b) >= SIMILAR_MOVED * (a + b):  # else too different in length
                best.append(j)
                if len(best) >= MOVE_CANDIDATES:
                    break
        if best:
            candidates.append((i, best))
    # Every removed item's likeliest candidate first, then the next ones while the budget lasts;
    # an item already found alike to one is not compared with its others.
    found: list[tuple[float, int, int, list[Segment]]] = []
    matched: set[int] = set()
    pairs = words_compared = 0
    for rank in range(MOVE_CANDIDATES):
        for i, best in candidates:
            if rank >= len(best) or i in matched:
                continue
            if pairs >= MAX_MOVE_PAIRS or words_compared >= MAX_MOVE_WORDS:
                break
            j = best[rank]
            pairs += 1
            words_compared += len(old[i].split()) + lengths[j]
            alike = _moved_changes(old[i], new[j])
            if alike is not None:
                found.append((alike[0], i, j, alike[1]))
                matched.add(i)
    found.sort(key=lambda f: (-f[0], f[1], f[2]))
    used_old: set[int] = set()
    used_new: set[int] = set()
    chosen = []
    for _ratio, i, j, segments in found:
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            chosen.append((i, j, segments))
    return chosen


def _fits(pairs: list[tuple[int, int]], i: int, j: int) -> bool:
    """Add (i, j) to ``pairs`` (sorted, rising in both) if it keeps them rising in both."""
    at = bisect.bisect(pairs, (i, j))
    if (at > 0 and pairs[at - 1][1] >= j) or (at < len(pairs) and pairs[at][1] <= j):
        return False
    pairs.insert(at, (i, j))
    return True


@dataclass
class _Step:
    """One place in two aligned sequences: ``old`` and ``new`` are indices (-1: none). A move's
    two steps both carry both indices."""

    kind: str  # "same", "changed", "inserted", "deleted", "moved_from", "moved_to"
    old: int = -1
    new: int = -1
    move: int = 0
    changes: list[Segment] | None = None  # "changed", and "moved_to" when edited on the way


def _align(
    old: Sequence[str],
    new: Sequence[str],
    old_keys: Sequence[Hashable] | None = None,
    new_keys: Sequence[Hashable] | None = None,
) -> list[_Step]:
    """Items (paragraphs, or slides) ``old`` matched with ``new`` in the order of the newer
    version, removed ones where they were: items with equal keys (their text unless given) are
    the same; a removed item whose key is added elsewhere is an exact move; a removed item
    replaced by a similar one (SIMILAR) is changed in place; a removed item and an added one
    elsewhere alike enough (SIMILAR_MOVED) are one item moved and edited."""
    a = old if old_keys is None else old_keys
    b = new if new_keys is None else new_keys
    opcodes = difflib.SequenceMatcher(None, a, b).get_opcodes()
    opcode_of_old: dict[int, int] = {}
    opcode_of_new: dict[int, int] = {}
    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag != "equal":
            opcode_of_old.update((i, n) for i in range(i1, i2))
            opcode_of_new.update((j, n) for j in range(j1, j2))
    # Exact moves: a removed item whose key is added elsewhere (each added one used once).
    added_at: dict[Hashable, list[int]] = {}
    for j in opcode_of_new:  # in rising order
        added_at.setdefault(b[j], []).append(j)
    moves: dict[int, int] = {}  # old index -> new index
    for i in opcode_of_old:
        spots = added_at.get(a[i])
        if spots:
            moves[i] = spots.pop(0)
    moved_new = set(moves.values())
    # Changed in place: removed and added items side by side in one replaced stretch.
    in_place: dict[int, list[tuple[int, int]]] = {}  # opcode -> (old, new) pairs, rising
    changes: dict[tuple[int, int], list[Segment]] = {}
    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag != "replace":
            continue
        olds = [i for i in range(i1, i2) if i not in moves]
        news = [j for j in range(j1, j2) if j not in moved_new]
        for i, j in zip(olds, news, strict=False):
            found = _changed(old[i], new[j])
            if found is not None:
                in_place.setdefault(n, []).append((i, j))
                changes[(i, j)] = found
    # Moved and edited: what is still removed against what is still added, anywhere. A pair in
    # one stretch that keeps the order of its other pairs is a change in place after all.
    paired_old = {i for pairs in in_place.values() for i, _ in pairs}
    paired_new = {j for pairs in in_place.values() for _, j in pairs}
    removed = [i for i in opcode_of_old if i not in moves and i not in paired_old]
    added = [j for j in opcode_of_new if j not in moved_new and j not in paired_new]
    for i, j, found in _edited_moves(old, new, removed, added):
        n = opcode_of_old[i]
        if not (n == opcode_of_new[j] and _fits(in_place.setdefault(n, []), i, j)):
            moves[i] = j
        changes[(i, j)] = found
    number = {i: count for count, i in enumerate(sorted(moves), start=1)}
    moved_to = {j: i for i, j in moves.items()}

    steps: list[_Step] = []

    def added_step(j: int) -> None:
        if j in moved_to:
            i = moved_to[j]
            steps.append(_Step("moved_to", i, j, number[i], changes.get((i, j))))
        else:
            steps.append(_Step("inserted", new=j))

    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            steps.extend(_Step("same", i1 + k, j1 + k) for k in range(i2 - i1))
            continue
        pairs = dict(in_place.get(n, []))
        paired = set(pairs.values())
        pending = [j for j in range(j1, j2) if j not in paired]
        next_pending = 0
        for i in range(i1, i2):
            if i in pairs:
                j = pairs[i]
                while next_pending < len(pending) and pending[next_pending] < j:
                    added_step(pending[next_pending])  # added before this one
                    next_pending += 1
                steps.append(_Step("changed", i, j, changes=changes[(i, j)]))
            elif i in moves:
                steps.append(_Step("moved_from", i, moves[i], number[i]))
            else:
                steps.append(_Step("deleted", old=i))
        for j in pending[next_pending:]:
            added_step(j)
    return steps


def _bounded(
    old: list[_Item], new: list[_Item], size: Callable[[_Item], tuple[int, int]]
) -> tuple[list[_Item], list[_Item], bool]:
    """The first items (paragraphs, or slides) of each version, up to MAX_PARAGRAPHS paragraphs
    and MAX_WORDS words (``size``: an item's paragraphs and words), the same number of each when
    both were cut (the same stretch compared); whether some were left out."""

    def first(items: list[_Item]) -> tuple[list[_Item], bool]:
        paragraphs = words = 0
        for count, item in enumerate(items):
            more_paragraphs, more_words = size(item)
            paragraphs += more_paragraphs
            words += more_words
            if paragraphs > MAX_PARAGRAPHS or words > MAX_WORDS:
                return items[:count], True
        return items, False

    (old, old_cut), (new, new_cut) = first(old), first(new)
    if old_cut and new_cut:
        old = old[: min(len(old), len(new))]
        new = new[: len(old)]
    return old, new, old_cut or new_cut


def _texts(paragraphs: Sequence[str | Paragraph]) -> tuple[list[str], list[Style]]:
    """Non-empty paragraphs' text (whitespace collapsed) and styles (a plain string is a plain
    paragraph)."""
    texts, styles = [], []
    for paragraph in paragraphs:
        text, style = (
            (paragraph.text, paragraph.style)
            if isinstance(paragraph, Paragraph)
            else (paragraph, PLAIN)
        )
        if text.strip():
            texts.append(" ".join(text.split()))
            styles.append(style)
    return texts, styles


def diff_paragraphs(old: Sequence[str | Paragraph], new: Sequence[str | Paragraph]) -> TextDiff:
    """The word-level redline from paragraphs ``old`` to ``new``. Paragraphs are matched by their
    text alone; each block carries the style of its paragraph in the newer version (in the older
    for one removed or moved away), only to be shown as such."""
    old_text, old_styles = _texts(old)
    new_text, new_styles = _texts(new)
    old_text, new_text, cut = _bounded(old_text, new_text, lambda p: (1, len(p.split())))
    result = TextDiff(cut=cut)
    for step in _align(old_text, new_text):
        was = old_text[step.old] if step.old >= 0 else ""
        now = new_text[step.new] if step.new >= 0 else ""
        gone = step.kind in {"deleted", "moved_from"}  # only the older version has it there
        style = old_styles[step.old] if gone else new_styles[step.new]
        if step.kind == "same":
            block = Block("same", [Segment("same", was)])
        elif step.kind == "moved_from":
            block = Block("moved_from", [Segment("del", was)], step.move)
            result.paragraphs_moved += 1
        elif step.kind == "deleted":
            block = Block("deleted", [Segment("del", was)])
            result.words_removed += len(was.split())
            result.paragraphs_changed += 1
        elif step.kind == "inserted":
            block = Block("inserted", [Segment("ins", now)])
            result.words_added += len(now.split())
            result.paragraphs_changed += 1
        elif step.kind == "moved_to" and step.changes is None:
            block = Block("moved_to", [Segment("ins", now)], step.move)
        else:  # changed in place, or moved and edited
            segments = step.changes or []
            block = Block(step.kind, segments, step.move)
            result.words_added += _count(segments, "ins")
            result.words_removed += _count(segments, "del")
            result.paragraphs_changed += 1
        block.style = style
        result.blocks.append(block)
    return result


# --- presentations ------------------------------------------------------------------------------


@dataclass
class Slide:
    """A slide as its preview shows it (previews/converters/pptx.py)."""

    number: int
    title: str = ""
    body: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the speaker notes' paragraphs

    @property
    def key(self) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        return (self.title, tuple(self.body), tuple(self.notes))

    @property
    def text(self) -> str:
        return " ".join([self.title, *self.body, *self.notes])

    @property
    def size(self) -> tuple[int, int]:
        """Paragraphs and words."""
        paragraphs = [self.title, *self.body, *self.notes]
        return sum(1 for p in paragraphs if p), sum(len(p.split()) for p in paragraphs)


_SLIDE_HEADING = re.compile(r"^Slide [0-9]+(?:: (.*))?$", re.DOTALL)


class _Slides(HTMLParser):
    """Slides of a presentation preview: ``<section class="cr-preview-slide" id="p-<n>">`` with
    ``<h2>Slide n: title</h2>``, a ``<p>`` per paragraph, and the speaker notes' paragraphs in an
    ``<aside>`` (under its own ``<h3>``). A note the preview adds (``class="cr-preview-note"``,
    "This slide has no text.") is not the slide's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.slides: list[Slide] = []
        self.text: list[str] | None = None  # the heading's or paragraph's text being read
        self.reading = ""  # "title", "body", "notes" or "" (not the slide's own text)
        self.in_notes = False
        self.depth = 0  # open elements inside the current slide's section

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section" and "cr-preview-slide" in (values.get("class") or "").split():
            anchor = values.get("id") or ""
            number = int(anchor[2:]) if anchor[2:].isdigit() else len(self.slides) + 1
            self.slides.append(Slide(number))
            self.in_notes = False
            self.depth = 1
            return
        if not self.depth:
            return
        self.depth += tag not in {"br", "img", "hr", "wbr"}
        if tag == "aside":
            self.in_notes = True
        elif tag == "h2" and not self.in_notes:
            self.text, self.reading = [], "title"
        elif tag == "p" and "cr-preview-note" not in (values.get("class") or "").split():
            self.text, self.reading = [], "notes" if self.in_notes else "body"
        elif tag == "br" and self.text is not None:
            self.text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if not self.depth or tag in {"br", "img", "hr", "wbr"}:
            return
        self.depth -= 1
        if tag == "aside":
            self.in_notes = False
        if tag in {"h2", "p"} and self.text is not None and self.slides:
            text = " ".join("".join(self.text).split())
            slide = self.slides[-1]
            if self.reading == "title":
                found = _SLIDE_HEADING.match(text)
                slide.title = (found.group(1) or "") if found else text
            elif text:
                (slide.notes if self.reading == "notes" else slide.body).append(text)
            self.text, self.reading = None, ""

    def handle_data(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)


def slides_from_html(html: str) -> list[Slide]:
    """The slides of a presentation preview's HTML, in order, whitespace collapsed."""
    parser = _Slides()
    parser.feed(html)
    parser.close()
    return parser.slides


@dataclass
class SlideChange:
    kind: str  # "same", "changed", "added", "removed", "moved_from", "moved_to"
    old_number: int = 0  # 0: not in the older version
    new_number: int = 0  # 0: not in the newer version
    title: list[Segment] = field(default_factory=list)  # the title's word changes
    body: TextDiff = field(default_factory=TextDiff)
    notes: TextDiff = field(default_factory=TextDiff)
    move: int = 0  # moved_from/moved_to: the move's number, to link the two places

    @property
    def words_added(self) -> int:
        return _count(self.title, "ins") + self.body.words_added + self.notes.words_added

    @property
    def words_removed(self) -> int:
        return _count(self.title, "del") + self.body.words_removed + self.notes.words_removed

    @property
    def renumbered(self) -> bool:
        return bool(self.old_number and self.new_number and self.old_number != self.new_number)

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "old_number": self.old_number,
            "new_number": self.new_number,
            "move": self.move,
            "title": [{"op": s.op, "text": s.text} for s in self.title],
            "blocks": [block.as_dict() for block in self.body.blocks],
            "notes": [block.as_dict() for block in self.notes.blocks],
        }


@dataclass
class SlideDiff:
    slides: list[SlideChange] = field(default_factory=list)
    cut: bool = False  # a deck was longer than MAX_PARAGRAPHS / MAX_WORDS: its first slides

    def _of(self, *kinds: str) -> list[SlideChange]:
        return [s for s in self.slides if s.kind in kinds]

    @property
    def words_added(self) -> int:
        return sum(s.words_added for s in self._of("changed", "moved_to"))

    @property
    def words_removed(self) -> int:
        return sum(s.words_removed for s in self._of("changed", "moved_to"))

    @property
    def changed(self) -> bool:
        return any(s.kind != "same" for s in self.slides)

    @property
    def summary(self) -> str:
        if not self.changed:
            return "No changes"
        parts = []
        paired = self._of("changed", "moved_to")
        worded = sum(1 for s in paired if s.words_added or s.words_removed)
        if worded:
            parts.append(_words_changed(self.words_added, self.words_removed, worded, "slide"))
        moved = sum(s.body.paragraphs_moved + s.notes.paragraphs_moved for s in paired)
        if moved:
            parts.append(f"{_n(moved, 'paragraph')} moved")
        for kind, said in (("added", "added"), ("removed", "removed"), ("moved_to", "moved")):
            count = len(self._of(kind))
            if count:
                parts.append(f"{_n(count, 'slide')} {said}")
        return "; ".join(parts)


def diff_slides(old: list[Slide], new: list[Slide]) -> SlideDiff:
    """Slide by slide: slides are matched as a document's paragraphs are (same, changed in place,
    added, removed, moved, moved and edited), then each matched slide's title, text and speaker
    notes are compared paragraph by paragraph and word by word."""
    old, new, cut = _bounded(old, new, lambda slide: slide.size)
    result = SlideDiff(cut=cut)
    steps = _align(
        [s.text for s in old], [s.text for s in new], [s.key for s in old], [s.key for s in new]
    )
    for place, step in enumerate(steps, start=1):
        before = old[step.old] if step.old >= 0 else Slide(0)
        after = new[step.new] if step.new >= 0 else Slide(0)
        if step.kind == "moved_from":  # its text is shown where it went
            title = [Segment("same", before.title)] if before.title else []
            result.slides.append(
                SlideChange("moved_from", before.number, after.number, title, move=step.move)
            )
            continue
        kind = {"inserted": "added", "deleted": "removed"}.get(step.kind, step.kind)
        title = _words_diff(before.title, after.title)
        if kind == "same":
            result.slides.append(SlideChange("same", before.number, after.number, title))
            continue
        body = diff_paragraphs(before.body, after.body)
        notes = diff_paragraphs(before.notes, after.notes)
        body.anchor, notes.anchor = f"slide-{place}-", f"slide-{place}-notes-"
        result.slides.append(
            SlideChange(kind, before.number, after.number, title, body, notes, step.move)
        )
    return result


# --- workbooks ----------------------------------------------------------------------------------

Row = tuple[str, ...]  # a row's cells' text from column A, trailing empty cells left out

# A preview's note that a sheet's rows were cut (previews/converters/xlsx.py and text.py):
# "Showing the first 200 of 5,000 rows of 'Beds'.", "Showing the first 200 rows of 'Beds'; it
# has more." (a workbook), "Showing the first 500 of 9,000 rows." (a CSV file).
_ROWS_CUT = re.compile(
    r"Showing the first [0-9,]+ (?:of [0-9,]+ )?rows(?: of '(.*)'(?:; it has more)?)?\."
)


def rows_cut(notes: Sequence[str]) -> set[str]:
    """The sheets whose rows a preview's ``notes`` say were cut ("" for a CSV file's table)."""
    found = (_ROWS_CUT.fullmatch(note) for note in notes)
    return {" ".join((m.group(1) or "").split()) for m in found if m}


@dataclass
class CellChange:
    ref: str  # "B7": named by the row's number in the newer version
    old: str
    new: str
    old_ref: str = ""  # the cell's name in the older version ("B6" when a row was added above)

    @property
    def kind(self) -> str:
        return "added" if not self.old else "removed" if not self.new else "changed"

    @property
    def moved(self) -> bool:
        """Its row has another number in the older version."""
        return bool(self.old_ref) and self.old_ref != self.ref

    def as_dict(self) -> dict[str, str]:
        """``ref``, ``old``, ``new``, and ``old_ref`` when its row has moved."""
        found = {"ref": self.ref, "old": self.old, "new": self.new}
        if self.moved:
            found["old_ref"] = self.old_ref
        return found


@dataclass
class RowChange:
    kind: str  # "added" or "removed"
    number: int  # the row's number: in the newer version (added) or in the older (removed)
    cells: list[tuple[str, str]] = field(default_factory=list)  # (ref, text), non-empty cells

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "row": self.number,
            "cells": [{"ref": ref, "text": text} for ref, text in self.cells],
        }


@dataclass
class SheetChanges:
    name: str
    kind: str  # "changed", "added", "removed"
    cells: list[CellChange] = field(default_factory=list)
    cell_count: int = 0  # all changed cells (``cells`` holds at most MAX_CELLS_SHOWN in all)
    rows: list[RowChange] = field(default_factory=list)  # added and removed rows shown, in order
    rows_added: int = 0  # all of them (``rows`` is cut with ``cells``)
    rows_removed: int = 0


@dataclass
class SheetDiff:
    sheets: list[SheetChanges] = field(default_factory=list)
    cut: bool = False  # more changed cells (added and removed rows' cells included) than shown
    single: bool = False  # one table without sheets (a CSV file): its one sheet has no name

    def _changed_sheets(self) -> list[SheetChanges]:
        return [s for s in self.sheets if s.kind == "changed"]

    @property
    def cells_changed(self) -> int:
        return sum(s.cell_count for s in self._changed_sheets())

    @property
    def rows_added(self) -> int:
        return sum(s.rows_added for s in self._changed_sheets())

    @property
    def rows_removed(self) -> int:
        return sum(s.rows_removed for s in self._changed_sheets())

    @property
    def changed(self) -> bool:
        return bool(self.sheets)

    @property
    def summary(self) -> str:
        """E.g. "1 row added; 2 cells changed in 1 sheet; 1 sheet removed" ("1 row added;
        2 cells changed" for a CSV file)."""
        if not self.sheets:
            return "No changes"
        within = []
        if self.rows_added:
            within.append(f"{_n(self.rows_added, 'row')} added")
        if self.rows_removed:
            within.append(f"{_n(self.rows_removed, 'row')} removed")
        if self.cells_changed:
            within.append(f"{_n(self.cells_changed, 'cell')} changed")
        if self.single:
            return "; ".join(within)
        parts = []
        changed = self._changed_sheets()
        if changed:
            parts.append(f"{'; '.join(within)} in {_n(len(changed), 'sheet')}")
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
                "cells": [c.as_dict() for c in s.cells],
                "rows_added": s.rows_added,
                "rows_removed": s.rows_removed,
                "rows": [row.as_dict() for row in s.rows],
            }
            for s in self.sheets
        ]


def _sheet_rows(cells: dict[tuple[int, int], str]) -> list[Row]:
    """Rows 1 to the last non-empty one (an empty row between is an empty tuple)."""
    by_row: dict[int, dict[int, str]] = {}
    for (row, column), text in cells.items():
        by_row.setdefault(row, {})[column] = text
    rows: list[Row] = []
    for number in range(1, max(by_row, default=0) + 1):
        found = by_row.get(number, {})
        rows.append(tuple(found.get(c, "") for c in range(1, max(found, default=0) + 1)))
    return rows


class _Budget:
    """Row pairs weighed by ``_pair_rows`` in one comparison, at most MAX_ROW_PAIRS."""

    def __init__(self) -> None:
        self.left = MAX_ROW_PAIRS


def _pair_rows(old: Sequence[Row], new: Sequence[Row], budget: _Budget) -> list[tuple[int, int]]:
    """The rows of a replaced stretch paired one to one, in order: every row of the shorter
    side, each with a row of the longer side, chosen to keep the most cells alike (same column,
    same text), so that a row added just above a changed row, such as a total, is not taken for
    it. Among equally good pairings the longer side's extra rows are its last ones, as when
    pairing by position. Sides of the same length are paired by position; past MAX_ROW_PAIRS
    pairs weighed in one comparison, unequal sides are too (from the first row)."""
    short, long = (old, new) if len(old) <= len(new) else (new, old)
    s, n = len(short), len(long)
    if s == n or not s or s * n > budget.left:
        pairs = [(i, i) for i in range(s)]
    else:
        budget.left -= s * n
        short_cells = [{(c, t) for c, t in enumerate(row) if t} for row in short]
        long_cells = [{(c, t) for c, t in enumerate(row) if t} for row in long]
        # best[i][j]: the most cells alike pairing short rows [:i] with long rows [:j] (j >= i).
        lowest = -1
        best = [[0] * (n + 1)] + [[lowest] * (n + 1) for _ in range(s)]
        for i in range(1, s + 1):
            for j in range(i, n - s + i + 1):
                paired = best[i - 1][j - 1] + len(short_cells[i - 1] & long_cells[j - 1])
                skipped = best[i][j - 1] if j > i else lowest
                best[i][j] = max(paired, skipped)
        pairs = []
        i, j = s, n
        while i:
            if j > i and best[i][j - 1] >= best[i][j]:
                j -= 1  # long row j - 1 is an extra one
                continue
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        pairs.reverse()
    return pairs if short is old else [(i, j) for j, i in pairs]


def _row_steps(
    old: list[Row], new: list[Row], old_cut: bool, new_cut: bool, budget: _Budget
) -> list[tuple[str, int, int]]:
    """The rows aligned, in order: ("paired", old index, new index) for rows to compare cell by
    cell, ("added", -1, new index), ("removed", old index, -1); equal rows left out.

    A side whose rows the preview cut may go on past its last row shown: rows after the last
    alike rows are then not said to be added (old cut) or removed (new cut), they may be there
    past the cut."""
    steps: list[tuple[str, int, int]] = []
    opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    for place, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            continue
        last = place == len(opcodes) - 1
        pairs = _pair_rows(old[i1:i2], new[j1:j2], budget) if tag == "replace" else []
        i, j = i1, j1
        for a, b in [*((i1 + a, j1 + b) for a, b in pairs), (i2, j2)]:
            if not (last and new_cut):
                steps.extend(("removed", r, -1) for r in range(i, a))
            if not (last and old_cut):
                steps.extend(("added", -1, r) for r in range(j, b))
            if a < i2:
                steps.append(("paired", a, b))
            i, j = a + 1, b + 1
    return steps


def _column_letter(column: int) -> str:
    """A sheet's column as its letters (1 is A, 27 is AA), as openpyxl names them: openpyxl
    (and the Pillow it loads) imported when sheets are compared, not with every page."""
    from openpyxl.utils import get_column_letter

    return get_column_letter(column)


def _row_change(kind: str, number: int, row: Row) -> RowChange:
    cells = [(f"{_column_letter(c)}{number}", t) for c, t in enumerate(row, start=1) if t]
    return RowChange(kind, number, cells)


def diff_sheets(
    old: dict[str, dict[tuple[int, int], str]],
    new: dict[str, dict[tuple[int, int], str]],
    old_cut: Collection[str] = (),
    new_cut: Collection[str] = (),
) -> SheetDiff:
    """Row by row, then cell by cell; sheets matched by name (added and removed sheets are
    named, not listed).

    The rows of each sheet are aligned first (difflib over whole rows): rows added and removed
    are listed as such, with their cells, so a row inserted near the top is "1 row added", not
    every cell below it changed. A stretch of rows replaced by another is paired row by row
    (``_pair_rows``), and the cells of each pair are compared: changed cells are named by their
    row's number in the newer version (``old_ref``: in the older). Columns are compared by
    position: a column inserted or removed shows as cells changed in every row, not as a column
    added. ``old_cut`` and ``new_cut`` name the sheets whose rows the preview of that version
    cut (``rows_cut``)."""
    result = SheetDiff()
    shown = 0
    budget = _Budget()
    for name in list(old) + [n for n in new if n not in old]:
        if name not in new:
            result.sheets.append(SheetChanges(name, "removed"))
            continue
        if name not in old:
            result.sheets.append(SheetChanges(name, "added"))
            continue
        a, b = _sheet_rows(old[name]), _sheet_rows(new[name])
        changes = SheetChanges(name, "changed")
        for kind, i, j in _row_steps(a, b, name in old_cut, name in new_cut, budget):
            if kind != "paired":
                row = _row_change(
                    kind, j + 1 if kind == "added" else i + 1, b[j] if j >= 0 else a[i]
                )
                if kind == "added":
                    changes.rows_added += 1
                else:
                    changes.rows_removed += 1
                if shown + max(len(row.cells), 1) <= MAX_CELLS_SHOWN:
                    changes.rows.append(row)
                    shown += max(len(row.cells), 1)
                else:
                    result.cut, shown = True, MAX_CELLS_SHOWN
                continue
            before, after = a[i], b[j]
            for column in range(1, max(len(before), len(after)) + 1):
                was = before[column - 1] if column <= len(before) else ""
                now = after[column - 1] if column <= len(after) else ""
                if was == now:
                    continue
                changes.cell_count += 1
                if shown < MAX_CELLS_SHOWN:
                    letter = _column_letter(column)
                    changes.cells.append(
                        CellChange(f"{letter}{j + 1}", was, now, f"{letter}{i + 1}")
                    )
                    shown += 1
                else:
                    result.cut = True
        if changes.cell_count or changes.rows_added or changes.rows_removed:
            result.sheets.append(changes)
    return result


def diff_tables(
    old: dict[tuple[int, int], str],
    new: dict[tuple[int, int], str],
    old_cut: bool = False,
    new_cut: bool = False,
) -> SheetDiff:
    """One table (a CSV file) row by row then cell by cell: the workbooks' comparison of one
    unnamed sheet; ``old_cut`` / ``new_cut``: that version's preview cut the rows."""
    result = diff_sheets(
        {"": old}, {"": new}, {""} if old_cut else set(), {""} if new_cut else set()
    )
    result.single = True
    return result
