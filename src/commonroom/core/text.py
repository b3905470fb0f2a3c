"""Cleaning free text people type (names, descriptions, notes) before it is stored.

Invariant: stored text is NFC-normalised and holds no control or format characters (NUL breaks
PostgreSQL, bidirectional overrides disguise text); multi-line text keeps its line breaks.
"""

from __future__ import annotations

import unicodedata

_DROPPED = {"Cc", "Cf", "Cs", "Co"}


def plain_text(value: str | None, *, multiline: bool = False) -> str:
    text = unicodedata.normalize("NFC", str(value or ""))
    keep = {"\n"} if multiline else set()
    text = "".join(
        ch if ch in keep or unicodedata.category(ch) not in _DROPPED else " " for ch in text
    )
    if multiline:
        lines = [" ".join(line.split()) for line in text.replace("\r", "").split("\n")]
        return "\n".join(lines).strip()
    return " ".join(text.split())
