"""``{% reader_items readers.read %}`` and ``{% reader_items readers.unread %}``: the items of
the document page's "Who has read it" lists (``documents/_readers.html``), each member by name
as ``{% person %}`` writes it and, for a reader, how and when they read it.

Written with ``format_html`` rather than template markup for the same reason as the versions'
items and the comment cards: a trust's workspace lists a few hundred members on each page
drawn for a manager, and the template's loop cost most of its time. It says the same as the
markup it replaced (``documents/tests/test_reader_items.py`` holds them equal): every value
escaped, the time as ``{{ value|date:"j M Y, H:i" }}`` writes it in the installation's time
zone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django import template
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from commonroom.accounts.templatetags.people import person
from commonroom.core.fragments import kept, nobody

if TYPE_CHECKING:
    from datetime import datetime

    from commonroom.documents.selectors import Reader

register = template.Library()

_GAP = "\n        "
_END = "\n      "


def _when(value: datetime) -> str:
    local = timezone.localtime(value)
    return (
        f"{local.day} {MONTHS_3[local.month].title()} {local.year:04d}, "
        f"{local.hour:02d}:{local.minute:02d}"
    )


def _item(r: Reader) -> SafeString:
    if r.read is None:
        return format_html("<li>{}</li>", person(r.person))
    return format_html(
        '<li>{} <span class="nhsuk-body-s cr-meta">{}, {}</span></li>',
        person(r.person),
        r.read.get_read_by_display(),
        _when(r.read.read_at),
    )


def _drawn(readers: Sequence[Reader]) -> str:
    return "".join(_GAP + _item(r) + _END for r in readers)


@register.simple_tag
def reader_items(readers: Sequence[Reader], empty: str) -> SafeString:
    """Each of ``readers`` as an item of its list, or one item saying ``empty``.

    Kept between requests (``core.fragments``) under everything the items show: each member's
    id, name, address and kind (the guest mark), how and when they read it, the language and
    the time zone. A receipt, a member, a name changed: another key, nothing to invalidate."""
    if not readers:
        return format_html(_GAP + "<li>{}</li>" + _END, empty)
    key = (
        tuple(
            (
                p.pk,
                p.full_name,
                p.email,
                p.kind,
                None if r.read is None else (r.read.get_read_by_display(), r.read.read_at),
            )
            for r in readers
            for p in (r.person,)
        ),
        get_language(),
        timezone.get_current_timezone_name(),
    )
    return SafeString(kept("documents.readers", key, lambda: _drawn(readers), people=nobody))
