"""The words of a watermark and of a printed page's footer, the same wherever they are drawn.

A watermark names its reader: their name, their email address and the day it was made, so a
page that leaves the app (printed, photographed, screenshotted) says whose it was. The previews
draw it into pictures and over HTML (``previews/watermark.py``, the preview template); documents
stamp it onto a guest's PDF download (``documents/pdf_stamp.py``). This module holds only the
words, so that every place says them alike; it names no app.

What a watermark cannot stop (a camera, retyping, cropping) is in docs/watermarks.md.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Protocol

from django.utils import timezone

SEPARATOR = " · "


class Reader(Protocol):
    email: str

    @property
    def display_name(self) -> str: ...


@dataclass(frozen=True)
class Watermark:
    """Whose copy it is and when it was made."""

    name: str
    email: str
    day: datetime.date

    @property
    def line(self) -> str:
        """``Aisha Khan · aisha@example.org · 5 December 2026`` (the name once when it is the
        address: a person with no name set)."""
        parts = [self.name] if self.name and self.name != self.email else []
        return SEPARATOR.join([*parts, self.email, day_words(self.day)])

    @property
    def key(self) -> str:
        """What tells two watermarks apart, for caches keyed by it."""
        return f"{self.name}\x00{self.email}\x00{self.day.isoformat()}"


def day_words(day: datetime.date) -> str:
    return f"{day.day} {day:%B %Y}"


def watermark_for(reader: Reader, *, day: datetime.date | None = None) -> Watermark:
    """The watermark of ``reader`` today (the installation's time zone)."""
    return Watermark(name=reader.display_name, email=reader.email, day=day or timezone.localdate())


def print_footer(reader: Reader, *, day: datetime.date | None = None) -> str:
    """The footer every printed preview carries, watermarked or not."""
    when = day_words(day or timezone.localdate())
    return (
        f"Printed by {reader.display_name} on {when} from Commonroom — "
        "check the workspace for the latest version"
    )
