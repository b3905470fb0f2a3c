"""``{% listing_rows %}``: the rows of a folder's listing (its folders, then a page of its
documents) in ``workspaces/_listing.html``.

It is written here rather than as template markup for the same reason as the comment cards
(``comments/templatetags/comment_cards.py``): a page lists a hundred documents, and Django's
templates spend about a tenth of a millisecond on each row's variables, tags and filters, most of
the page's time. Built with ``format_html`` a row costs a fraction of that and says the same:
every value escaped, the addresses made by ``reverse`` once a page and filled in for each row,
"3 days ago" and "4.1 KB" as the ``naturaltime`` and ``filesizeformat`` filters write them
(``documents/tests/test_listing_rows.py`` holds them equal, and the rows equal to the template's).
A document another program holds is rare: its words are still drawn by
``documents/_edit_lock_words.html``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.template import Template
from django.template.defaultfilters import filesizeformat
from django.template.loader import get_template
from django.urls import reverse
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

if TYPE_CHECKING:
    from commonroom.documents.models import Folder
    from commonroom.documents.selectors import ListedDocument

register = template.Library()

EMPTY = mark_safe("")
# Stands for a row's id in an address made once a page (any UUID the patterns accept).
_HOLE = str(uuid.UUID(int=0))

_UNITS = ("year", "month", "week", "day", "hour", "minute")
_CHUNKS = (60 * 60 * 24 * 7, 60 * 60 * 24, 60 * 60, 60)
_MONTHS_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _english() -> bool:
    language = translation.get_language()
    return language is None or language.startswith("en")


def _count(num: int, unit: str) -> str:
    return f"{num}\xa0{unit}" if num == 1 else f"{num}\xa0{unit}s"


def _since(d: datetime, now: datetime) -> str:
    """``django.utils.timesince.timesince(d, now)`` to two units, in English: "3 weeks, 2 days"."""
    total_months = (now.year - d.year) * 12 + (now.month - d.month)
    if d.day > now.day or (d.day == now.day and d.time() > now.time()):
        total_months -= 1
    years, months = divmod(total_months, 12)
    if years or months:
        pivot_year, pivot_month = d.year + years, d.month + months
        if pivot_month > 12:
            pivot_month -= 12
            pivot_year += 1
        pivot = datetime(
            pivot_year,
            pivot_month,
            min(_MONTHS_DAYS[pivot_month - 1], d.day),
            d.hour,
            d.minute,
            d.second,
            tzinfo=d.tzinfo,
        )
    else:
        pivot = d
    remaining = (now - pivot).total_seconds()
    partials = [years, months]
    for chunk in _CHUNKS:
        count = int(remaining // chunk)
        partials.append(count)
        remaining -= chunk * count
    shown: list[str] = []
    for num, unit in zip(partials, _UNITS, strict=True):
        if num:
            shown.append(_count(num, unit))
            if len(shown) == 2:
                break
        elif shown:
            break
    return ", ".join(shown) if shown else _count(0, "minute")


def ago(value: datetime, now: datetime | None = None, *, english: bool | None = None) -> str:
    """What ``{{ value|naturaltime }}`` writes for a moment in the past ("2 hours ago",
    "1 month, 2 weeks ago"); the filter itself for a moment to come or another language
    (``english``: whether the active language is English, when the caller knows)."""
    if now is None:
        now = datetime.now(UTC)
    if english is None:
        english = _english()
    if value >= now or value.tzinfo is None or not english:
        return str(naturaltime(value))
    now = now.astimezone(value.tzinfo)
    delta = now - value
    if delta.days:
        return f"{_since(value, now)} ago"
    seconds = delta.seconds
    if seconds == 0:
        return "now"
    if seconds < 60:
        return "a second ago" if seconds == 1 else f"{seconds}\xa0seconds ago"
    if seconds < 3600:
        minutes = seconds // 60
        return "a minute ago" if minutes == 1 else f"{minutes}\xa0minutes ago"
    hours = seconds // 3600
    return "an hour ago" if hours == 1 else f"{hours}\xa0hours ago"


def size(value: Any, *, english: bool | None = None) -> str:
    """What ``{{ value|filesizeformat }}`` writes ("4.1\xa0KB", "12\xa0bytes"); ``english``
    as for :func:`ago`."""
    if english is None:
        english = _english()
    if not isinstance(value, int) or value < 0 or not english:
        return str(filesizeformat(value))
    if value < 1024:
        return "1\xa0byte" if value == 1 else f"{value}\xa0bytes"
    for shift, unit in ((20, "KB"), (30, "MB"), (40, "GB"), (50, "TB")):
        if value < 1 << shift:
            return f"{round(value / (1 << (shift - 10)), 1):.1f}\xa0{unit}"
    return f"{round(value / (1 << 50), 1):.1f}\xa0PB"


_DASH = "\N{EN DASH}"  # an empty cell
# A cell, its column's name before its value for the narrow screens' layout.
_CELL = (
    '\n      <td class="nhsuk-table__cell" role="cell"><span class="nhsuk-table__heading" '
    'aria-hidden="true">'
)
_FOLDER_ROW = (
    '\n    <tr class="nhsuk-table__row" role="row">'
    f'{_CELL}Name </span><span class="cr-break">{{}}<a class="nhsuk-link" href="{{}}">{{}}<span '
    'class="nhsuk-u-visually-hidden"> (folder)</span></a></span></td>'
    f"{_CELL}Version </span><span>{_DASH}</span></td>"
    f"{_CELL}Updated </span><span>{{}}</span></td>"
    f"{_CELL}Size </span><span>{_DASH}</span></td>\n    </tr>\n  "
)
_DOCUMENT_ROW = (
    '\n    <tr class="nhsuk-table__row" role="row">'
    f'{_CELL}Name </span><span class="cr-break"><a class="nhsuk-link" href="{{}}">{{}}</a>'
    "\n        {}</span></td>"
    f"{_CELL}Version </span><span>{{}}</span></td>"
    f"{_CELL}Updated </span><span>{{}}{{}}</span></td>"
    f"{_CELL}Size </span><span>{{}}</span></td>\n    </tr>\n  "
)
_SEALED = '<strong class="nhsuk-tag nhsuk-tag--purple">Final record</strong>'
_NEW = '<strong class="nhsuk-tag nhsuk-tag--yellow">New since you last read it</strong>'
_CROSSED = '<strong class="nhsuk-tag nhsuk-tag--orange">Crossed amendment</strong>'
_LOCKED = '<strong class="nhsuk-tag nhsuk-tag--blue cr-edit-lock-tag">{}</strong>'


def _folder_row(f: Folder, url: str, now: datetime, english: bool, icon: SafeString) -> SafeString:
    return format_html(
        _FOLDER_ROW,
        icon,
        url.replace(_HOLE, str(f.pk)),
        f.name,
        ago(f.created_at, now, english=english),
    )


def _tags(d: ListedDocument, context: template.Context) -> SafeString:
    """The row's tags: a final record, new since its reader read it, a crossed amendment, held
    open in another program."""
    v = d.latest
    tags = [
        _SEALED if d.sealed_version_id else "",
        _NEW if d.new_since_read else "",
        _CROSSED if v is not None and not v.based_on_latest else "",
    ]
    if d.edit_lock:
        with context.push(lock=d.edit_lock):
            words = _LOCK_WORDS.render(context)
        tags.append(format_html(_LOCKED, words))
    return SafeString("\n        ".join(tags))


_LOCK_WORDS = Template("{% include 'documents/_edit_lock_words.html' %}")


def _document_row(
    d: ListedDocument, url: str, now: datetime, english: bool, context: template.Context
) -> str:
    """One document's row: what ``format_html`` would make of it, each value escaped as
    ``conditional_escape`` escapes a string (``html.escape``), without its per-call cost."""
    v = d.latest
    return _DOCUMENT_ROW.format(
        escape(url.replace(_HOLE, str(d.pk))),
        escape(d.name),
        _tags(d, context),
        d.current_version_number,
        escape(ago(d.updated_at, now, english=english)),
        f" by {escape(v.author_name)}" if v is not None else "",
        escape(size(v.size if v is not None else "", english=english)),
    )


@register.simple_tag(takes_context=True)
def listing_rows(context: template.Context) -> SafeString:
    """The folders' rows, then the documents' (``folders`` and ``documents`` in the context,
    each document a ``selectors.ListedDocument`` as ``documents.views._folder_page`` leaves
    it). The language is asked once for the listing, not once a row."""
    workspace = context["workspace"]
    now = datetime.now(UTC)
    parts: list[str] = []
    english = _english()
    folders = context.get("folders") or []
    if folders:
        url = reverse("folder_detail", args=[workspace.pk, _HOLE])
        icon = SafeString(get_template("icons/folder.svg").render())
        parts.extend(_folder_row(f, url, now, english, icon) for f in folders)
    documents = context.get("documents") or []
    if documents:
        url = reverse("document_detail", args=[workspace.pk, _HOLE])
        parts.extend(_document_row(d, url, now, english, context) for d in documents)
    return SafeString("".join(parts))
