"""A preview block's text against a file paragraph's: the same once line breaks are left out (a
preview shows a line break as ``<br>``, which has no text). Pure functions, no Django: the
passages module and the confined child that writes tracked changes (``tracked_child``) both use
them."""

from __future__ import annotations

import bisect

BREAKS = frozenset("\n\r")


def kept(text: str) -> list[int]:
    """The positions of ``text`` that are not line breaks."""
    return [i for i, c in enumerate(text) if c not in BREAKS]


def unbroken(text: str) -> str:
    return "".join(c for c in text if c not in BREAKS)


def map_range(shown: str, start: int, end: int, paragraph: str) -> tuple[int, int]:
    """``[start, end)`` of ``shown`` as a range of ``paragraph``, where the two say the same
    once line breaks are left out of both."""
    shown_kept, paragraph_kept = kept(shown), kept(paragraph)
    first = bisect.bisect_left(shown_kept, start)  # kept characters before start
    last = bisect.bisect_left(shown_kept, end)
    a = paragraph_kept[first] if first < len(paragraph_kept) else len(paragraph)
    b = paragraph_kept[last - 1] + 1 if last > first else a
    return a, b
