"""Following an anchored thread's passage from one version's preview to a newer one, and what a
thread says about where its passage is. No database here: the services and selectors call it.

A passage is a block of a version's preview (``id="p-<n>"``, read as a browser's
``textContent`` by ``previews.blocks``) and ``[start, end)`` in its text, counted as the
browser counts (UTF-16 code units). The rule:

- the passage is where it was when its place still reads as its quote (``quote_at``: the text
  at the offsets, with whitespace folded as the page folds it when it sends the quote);
- it is in the newer version when a block of the newer preview has exactly the text of the
  passage's block, on the same side (the document's text, or the Word comments listed under
  it); among several blocks with that text, the one in the same rank (the second "Agreed." is
  the second "Agreed." again, and is not found when only one is left); the offsets stay the same,
  so the quote is still at them;
- otherwise its passage changed in the newer version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from commonroom.core.text import plain_text
from commonroom.previews.blocks import Block, code_points, utf16_length

MAX_QUOTE = 500  # what the page sends of a passage (anchors.js), in UTF-16 code units


@dataclass(frozen=True)
class Place:
    """Where a passage is in one version's preview."""

    block: str
    start: int
    end: int


Outcome = Literal["found", "changed", "unreadable"]


def quote_at(text: str, start: int, end: int) -> str | None:
    """The quote the page sends for ``[start, end)`` (UTF-16 offsets) of a block's ``text``:
    whitespace folded, trimmed; ``None`` when the offsets are not in the text."""
    first, last = code_points(text, start), code_points(text, end)
    if first is None or last is None or first > last:
        return None
    return plain_text(text[first:last])


def reads_as(quote: str, text: str, place: Place) -> bool:
    """Whether the passage at ``place`` of a block reading ``text`` is the thread's ``quote``
    (which the page cut at :data:`MAX_QUOTE` code units)."""
    found = quote_at(text, place.start, place.end)
    if found is None or not quote:
        return False
    if found == quote:
        return True
    return utf16_length(quote) >= MAX_QUOTE - 2 and found.startswith(quote)


def follow(
    place: Place, quote: str, before: list[Block], after: list[Block]
) -> tuple[Outcome, Place | None]:
    """Where the passage at ``place`` of a preview whose blocks are ``before`` is in a newer
    preview whose blocks are ``after`` (see the module): ``("found", its place)``,
    ``("changed", None)``, or ``("unreadable", None)`` when ``place`` is not the quoted passage
    of ``before`` (its block is gone, or reads otherwise: it cannot be followed)."""
    source = next((b for b in before if b.id == place.block), None)
    if source is None or not reads_as(quote, source.text, place):
        return "unreadable", None

    def same(blocks: list[Block]) -> list[Block]:
        return [b for b in blocks if b.aside == source.aside and b.text == source.text]

    rank = [b.id for b in same(before)].index(source.id)
    there = same(after)
    if rank >= len(there):
        return "changed", None
    return "found", Place(there[rank].id, place.start, place.end)


@dataclass(frozen=True)
class PassageShown:
    """What a thread's first comment shows about its passage on the latest version:
    ``here``, the block it links to there ("" when it is not known there); ``changed_in``, the
    version where its passage changed; ``unchecked_in`` (and ``unchecked_why``: "no_preview" or
    "unreadable"), the latest version where it could not be looked for."""

    here: str = ""
    changed_in: int | None = None
    unchecked_in: int | None = None
    unchecked_why: str = ""
