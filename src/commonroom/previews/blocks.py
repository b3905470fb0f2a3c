"""A preview's anchored blocks (``id="p-<n>"``) as a reader's browser has them.

A passage chosen on the page is sent as offsets into its block's ``textContent``; the server
reads the same text here, from the stored (sanitised) HTML: every piece of text inside the
block, nested blocks' included, whitespace exactly as written; a line break (``<br>``) or a
picture adds nothing; the newline right after ``<pre>`` is dropped, as the HTML parser does.

What must always hold: :func:`blocks_in` gives, for each anchored block in document order, the
text a browser's ``textContent`` gives for it in the preview as stored (the page adds its markers
after blocks, never inside one's own text), in code points (a browser counts UTF-16 code units:
see :func:`code_points`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_ANCHOR = re.compile(r"^p-[0-9]{1,7}$")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
# The list of a Word file's own comments that the preview shows under the document.
ASIDE_CLASS = "cr-preview-comments"


@dataclass(frozen=True)
class Block:
    """One anchored block: ``text`` is its ``textContent``; ``own`` the part of it before the
    first anchored block inside it (all of ``text`` when there is none), which is what a passage
    chosen in it may cover; ``aside`` when it is not the document's own text (the Word
    comments listed under a document)."""

    id: str
    text: str
    own: str
    nested: bool
    aside: bool


@dataclass
class _Building:
    id: str
    aside: bool
    parts: list[str] = field(default_factory=list)
    own: list[str] = field(default_factory=list)
    nested: bool = False


@dataclass
class _Open:
    tag: str
    block: _Building | None
    aside: bool


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[_Open] = []
        self.found: list[_Building] = []
        self.after_pre = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.after_pre = False
        if tag in _VOID:
            return
        values = dict(attrs)
        aside = (
            any(o.aside for o in self.stack) or ASIDE_CLASS in (values.get("class") or "").split()
        )
        block = None
        if _ANCHOR.match(values.get("id") or ""):
            for opened in self.stack:
                if opened.block is not None:
                    opened.block.nested = True
            block = _Building(str(values["id"]), aside)
            self.found.append(block)
        self.stack.append(_Open(tag, block, aside))
        self.after_pre = tag == "pre"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.after_pre = False  # a self-closed element holds no text

    def handle_endtag(self, tag: str) -> None:
        self.after_pre = False
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if self.after_pre and data.startswith("\n"):
            data = data[1:]
        self.after_pre = False
        for opened in self.stack:
            block = opened.block
            if block is None:
                continue
            block.parts.append(data)
            if not block.nested:
                block.own.append(data)


def blocks_in(html: str) -> list[Block]:
    """The anchored blocks of a preview's ``html``, in document order (see the module)."""
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return [Block(b.id, "".join(b.parts), "".join(b.own), b.nested, b.aside) for b in parser.found]


def code_points(text: str, utf16_offset: int) -> int | None:
    """The position in ``text`` (code points) of a browser's offset in UTF-16 code units;
    ``None`` when it is beyond the text or falls inside a character (half of an emoji)."""
    if utf16_offset < 0:
        return None
    units = 0
    for index, character in enumerate(text):
        if units == utf16_offset:
            return index
        units += 2 if ord(character) > 0xFFFF else 1
        if units > utf16_offset:
            return None
    return len(text) if units == utf16_offset else None


def utf16_length(text: str) -> int:
    """How long a browser counts ``text`` (UTF-16 code units)."""
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)
