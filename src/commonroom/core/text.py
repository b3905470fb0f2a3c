"""Cleaning free text people type (names, descriptions, notes) before it is stored.

Invariant: stored text is NFC-normalised and holds no control or format characters (NUL breaks
PostgreSQL, bidirectional overrides disguise text); multi-line text keeps its line breaks.
"""

from __future__ import annotations

import unicodedata

from commonroom.core.exceptions import ApplicationError

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


def posted_text(value: str | None, *, noun: str, max_length: int = 10_000) -> str:
    """What someone posted (a comment, a message), cleaned; refused when empty or too long.
    Error codes are ``empty_<noun>`` and ``<noun>_too_long``."""
    text = plain_text(value, multiline=True)
    if not text:
        raise ApplicationError("Write something before sending.", code=f"empty_{noun}")
    if len(text) > max_length:
        raise ApplicationError(
            f"A {noun} can be at most {max_length:,} characters.", code=f"{noun}_too_long"
        )
    return text
