"""A stale copy's changes, found by comparing it with the version it was made from, as
suggestions: no database here, paragraphs in, changes out (decision 18).

A copy of version 1 uploaded as version 4 undoes what versions 2 and 3 changed. What the copy
itself changed is what differs between version 1's paragraphs and its own
(:func:`paragraph_changes`): a changed paragraph, a deleted one, a new one. Each can be carried
onto version 3 as a suggestion when the paragraph it changes (or the one a new paragraph
follows) is still in version 3 as version 1 had it (:func:`survivors`); one whose paragraph
versions 2 or 3 changed too is a crossed change, reported and not carried.

Within a changed paragraph the suggestion covers the smallest run of whole words holding every
difference (:func:`word_span`): one suggestion per paragraph, so accepting it is all or nothing
for that paragraph, as an upload is.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from commonroom.suggestions.models import Kind

_TOKENS = re.compile(r"\s+|\S+")


@dataclass(frozen=True)
class ParagraphChange:
    """One change the copy made: ``kind`` REPLACE (paragraph ``base`` of the base now reads
    ``new``), DELETE (paragraph ``base`` is gone) or NEW_PARAGRAPH (``new`` follows paragraph
    ``base``; -1: it comes before every paragraph). ``copy`` is the copy's paragraph (-1 for a
    deletion)."""

    kind: Kind
    base: int
    copy: int
    old: str
    new: str


@dataclass(frozen=True)
class Span:
    """A change within one paragraph's text: ``kind`` (replace, delete, insert before or after
    the passage ``[start, end)``) and the text it puts in."""

    kind: Kind
    start: int
    end: int
    text: str


def _blank(text: str) -> bool:
    return not text.strip()


def paragraph_changes(base: list[str], copy: list[str]) -> list[ParagraphChange]:
    """What ``copy`` changed of ``base`` (both a file's paragraphs, ``passages.paragraphs``),
    paragraph by paragraph, in the copy's order. Empty paragraphs are left out on both sides (a
    preview does not show them, so no suggestion can be on one): text typed into an empty
    paragraph is a new paragraph."""
    b_at = [i for i, t in enumerate(base) if not _blank(t)]
    c_at = [j for j, t in enumerate(copy) if not _blank(t)]
    b_texts, c_texts = [base[i] for i in b_at], [copy[j] for j in c_at]
    found: list[ParagraphChange] = []
    matcher = difflib.SequenceMatcher(None, b_texts, c_texts, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1)
        for k in range(paired):
            found.append(
                ParagraphChange(
                    Kind.REPLACE, b_at[i1 + k], c_at[j1 + k], b_texts[i1 + k], c_texts[j1 + k]
                )
            )
        for k in range(i1 + paired, i2):
            found.append(ParagraphChange(Kind.DELETE, b_at[k], -1, b_texts[k], ""))
        # New paragraphs follow the base paragraph before them (the last one paired, or the
        # one before this run of changes), in the copy's order.
        after = i1 + paired - 1
        for k in range(j1 + paired, j2):
            found.append(
                ParagraphChange(
                    Kind.NEW_PARAGRAPH,
                    b_at[after] if after >= 0 else -1,
                    c_at[k],
                    b_texts[after] if after >= 0 else "",
                    c_texts[k],
                )
            )
    return found


def survivors(base: list[str], target: list[str]) -> dict[int, int]:
    """Each paragraph of ``base`` that ``target`` still has, unchanged and in its place among
    the others (difflib's matching blocks): base index -> target index."""
    found: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, base, target, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            found[block.a + k] = block.b + k
    return found


def places_after(base: list[str], target: list[str]) -> dict[int, int]:
    """For each paragraph of ``base``, the paragraph of ``target`` that a new paragraph written
    after it goes after: itself where ``target`` still has it (:func:`survivors`), else the
    last paragraph with text of what ``target`` has in its place or before it (-1: none)."""
    found: dict[int, int] = {}

    def last_text(before: int) -> int:
        k = before - 1
        while k >= 0 and _blank(target[k]):
            k -= 1
        return k

    matcher = difflib.SequenceMatcher(None, base, target, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for i in range(i1, i2):
            found[i] = j1 + (i - i1) if tag == "equal" else last_text(j2)
    return found


def word_span(old: str, new: str) -> Span | None:
    """The change from ``old`` to ``new`` as one span of ``old`` covering every difference,
    widened to whole words; None when they are the same. An insertion between words is an
    insertion before the next word (or after the last one)."""
    if old == new:
        return None
    a_tokens, b_tokens = _TOKENS.findall(old), _TOKENS.findall(new)
    matcher = difflib.SequenceMatcher(None, a_tokens, b_tokens, autojunk=False)
    changed = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    i1, j1 = changed[0][1], changed[0][3]
    i2, j2 = changed[-1][2], changed[-1][4]
    start = sum(len(t) for t in a_tokens[:i1])
    end = start + sum(len(t) for t in a_tokens[i1:i2])
    text = "".join(b_tokens[j1:j2])
    if start == end:  # only words added: before the next word, or after the one before
        after = next((k for k in range(i1, len(a_tokens)) if not a_tokens[k].isspace()), None)
        if after is not None:
            stop = start + sum(len(t) for t in a_tokens[i1 : after + 1])
            return Span(Kind.INSERT_BEFORE, start, stop, text)
        before = max(k for k in range(i1) if not a_tokens[k].isspace())
        first = sum(len(t) for t in a_tokens[:before])
        return Span(Kind.INSERT_AFTER, first, end, text)
    if not text:
        return Span(Kind.DELETE, start, end, "")
    return Span(Kind.REPLACE, start, end, text)


def versions_between(first: int, last: int) -> str:
    """The versions ``first`` to ``last`` in words: "version 3", "versions 2 and 3"."""
    if first == last:
        return f"version {last}"
    return f"versions {first} {'and' if last == first + 1 else 'to'} {last}"
