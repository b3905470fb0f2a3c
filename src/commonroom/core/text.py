"""Cleaning free text people type (names, descriptions, notes) before it is stored.

Invariant: stored text is NFC-normalised and holds no control or format characters (NUL breaks
PostgreSQL, bidirectional overrides disguise text); multi-line text keeps its line breaks.
"""

from __future__ import annotations

import unicodedata

from commonroom.core.exceptions import ApplicationError

_DROPPED = {"Cc", "Cf", "Cs", "Co"}


def plain_text(value: str | None, *, multiline: bool = False) -> str:
    text = str(value or "")
    # Printable ASCII (most names, addresses, notes) is already NFC and holds no control or
    # format character: nothing to replace, character by character.
    if not (text.isascii() and text.isprintable()):
        text = unicodedata.normalize("NFC", text)
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


def stated_text(
    value: object, *, what: str, limit: int, required: bool = False, required_message: str = ""
) -> str:
    """A short text someone states with an act (a reason, a note to approvers), cleaned as
    multi-line plain text; refused, never silently changed, when it holds hidden characters
    (controls other than line breaks and tabs, format characters such as bidirectional
    overrides), when it is over ``limit`` characters, or when ``required`` and empty. Error
    codes: ``invalid_<what>``, ``<what>_too_long``, ``<what>_required``."""
    raw = value if isinstance(value, str) else ""
    if any(unicodedata.category(ch) in _DROPPED and ch not in "\n\r\t" for ch in raw):
        raise ApplicationError(
            f"The {what} holds characters that cannot be stored: write it as plain text.",
            code=f"invalid_{what}",
        )
    text = plain_text(raw, multiline=True)
    if len(text) > limit:
        raise ApplicationError(
            f"A {what} can be at most {limit:,} characters.", code=f"{what}_too_long"
        )
    if required and not text:
        raise ApplicationError(
            required_message or f"Please give a {what}.", code=f"{what}_required"
        )
    return text
