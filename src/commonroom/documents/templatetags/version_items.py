"""``{% version_items %}``: the document page's list of versions, newest first, each with its
tags, facts and the links and forms its reader may use.

Written with ``format_html`` rather than template markup for the same reason as the folder's
rows (``listing_rows.py``) and the comment cards: a paper revised fifty times has fifty
items of a dozen conditions each, and the template's nodes cost most of their time. It says the
same as the markup it replaces (``documents/tests/test_version_items.py`` holds them equal
for every state a version can be in): every value escaped, dates in the installation's time
zone as the ``date`` filter writes them, sizes as ``filesizeformat`` does, the page's CSRF
token in each form. What it needs is in the page's context: ``versions``, ``document``,
``workspace``, ``abilities``, ``comparable`` (the previews app's, absent without it) and
``csrf_token``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString

from commonroom.accounts.templatetags.people import person
from commonroom.core.fragments import csrf_field
from commonroom.documents.templatetags.listing_rows import size

if TYPE_CHECKING:
    from commonroom.documents.models import Version
    from commonroom.documents.permissions import DocumentAbilities

register = template.Library()

EMPTY = SafeString("")
_GAP = "\n        "
_ROW = (
    '<div class="nhsuk-summary-list__row"><dt class="nhsuk-summary-list__key">{}</dt>'
    '<dd class="nhsuk-summary-list__value">{}</dd></div>'
)


def _when(value: datetime | None) -> SafeString:
    """``<time>`` as ``{{ value|date:'c' }}`` and ``{{ value|date:"j M Y, H:i" }}`` write it
    (both empty for no moment)."""
    if value is None:
        return SafeString('<time datetime=""></time>')
    local = timezone.localtime(value)
    shown = (
        f"{local.day} {MONTHS_3[local.month].title()} {local.year:04d}, "
        f"{local.hour:02d}:{local.minute:02d}"
    )
    return format_html('<time datetime="{}">{}</time>', local.isoformat(), shown)


class _Page:
    """What every item shares: the forms' CSRF field, the addresses, what the reader may do."""

    def __init__(self, context: template.Context) -> None:
        self.token = csrf_field(context.get("csrf_token"))
        workspace, document = context["workspace"], context["document"]
        self.document = document
        self.download_url = reverse("version_download", args=[workspace.pk, document.pk, 999999999])
        self.compare_url = reverse("version_compare", args=[workspace.pk, document.pk])
        self.action_url = reverse("document_action", args=[workspace.pk, document.pk])
        abilities: DocumentAbilities | None = context.get("abilities")
        self.download = abilities is not None and abilities["download"]
        self.restore = abilities is not None and abilities["restore_version"]
        self.comparable = context.get("comparable") or ()


def _tags(v: Version, first: bool, page: _Page) -> SafeString:
    record = based = again = locked = EMPTY
    if v.record_at:
        record = format_html(
            '<strong class="nhsuk-tag nhsuk-tag--purple">Final record{}</strong>',
            " (reopened since)" if v.pk != page.document.sealed_version_id else "",
        )
    if not v.based_on_latest:
        based = format_html(
            '<strong class="nhsuk-tag nhsuk-tag--orange">Based on version {}, not the '
            "latest</strong>",
            v.based_on_number,
        )
    if v.restored_from_number:
        again = format_html(
            '<strong class="nhsuk-tag nhsuk-tag--grey">Restored from version {}</strong>',
            v.restored_from_number,
        )
    elif v.identical_to_number:
        again = format_html(
            '<strong class="nhsuk-tag nhsuk-tag--grey">Identical to version {}</strong>',
            v.identical_to_number,
        )
    if v.while_locked_by_id:
        locked = format_html(
            '<strong class="nhsuk-tag nhsuk-tag--orange">Made while open in {}</strong>',
            v.while_locked_in or "another app",
        )
    latest = SafeString(' <strong class="nhsuk-tag nhsuk-tag--green">Latest</strong>')
    return format_html(
        "Version {}{}" + _GAP + "{}" + _GAP + "{}" + _GAP + "{}" + _GAP + "{}",
        v.number,
        latest if first else EMPTY,
        record,
        based,
        again,
        locked,
    )


def _facts(v: Version) -> SafeString:
    gap = "\n      "
    rows = [
        format_html(_ROW, "By", v.author.display_name),
        format_html(_ROW, "When", _when(v.created_at)),
        format_html(_ROW, "Size", format_html("{} · {}", size(v.size), v.filename)),
        format_html(_ROW, "SHA-256", format_html('<code class="cr-hash">{}</code>', v.blob_id)),
        format_html(_ROW, "Final record", format_html("Since {}", _when(v.record_at)))
        if v.record_at
        else EMPTY,
        format_html(_ROW, "Note", v.note) if v.note else EMPTY,
        format_html(
            _ROW,
            "While open elsewhere",
            format_html(
                "Made while {} had this document open in {} (since {}). Kept as it is; what "
                "they saved there afterwards is a later version.",
                person(v.while_locked_by, strong=False),
                v.while_locked_in or "another app",
                _when(v.while_locked_since),
            ),
        )
        if v.while_locked_by_id
        else EMPTY,
        format_html(
            _ROW,
            "Based on",
            format_html("This file was downloaded from version {}.", v.based_on_number),
        )
        if v.based_on_from_file and not v.based_on_latest
        else EMPTY,
    ]
    return SafeString(gap + gap.join(rows))


def _actions(v: Version, first: bool, page: _Page) -> SafeString:
    download = compare = restore = EMPTY
    if page.download:
        download = format_html(
            '<a class="nhsuk-link" href="{}" download>Download<span '
            'class="nhsuk-u-visually-hidden"> version {}</span></a>',
            page.download_url.replace("/v/999999999/", f"/v/{v.number}/"),
            v.number,
        )
    if v.number in page.comparable:
        compare = format_html(
            '<a class="nhsuk-link" href="{}?a={}&amp;b={}">Compare with the previous '
            'version<span class="nhsuk-u-visually-hidden"> (version {})</span></a>',
            page.compare_url,
            v.number - 1,
            v.number,
            v.number - 1,
        )
    if page.restore and not first:
        restore = format_html(
            '\n      <form method="post" action="{}" class="cr-inline-form">\n        {}<input '
            'type="hidden" name="action" value="restore_version"><input type="hidden" '
            'name="number" value="{}">\n        <button class="nhsuk-button '
            'nhsuk-button--secondary nhsuk-button--small" type="submit">Restore<span '
            'class="nhsuk-u-visually-hidden"> version {}</span> as the latest</button>\n'
            "      </form>\n      ",
            page.action_url,
            page.token,
            v.number,
            v.number,
        )
    return format_html("\n      {}\n      {}\n      {}\n    ", download, compare, restore)


def _item(v: Version, first: bool, page: _Page) -> SafeString:
    return format_html(
        '\n  <li class="cr-version" id="v{}">\n    <div class="cr-version__head">\n      <h3 '
        'class="nhsuk-heading-s cr-version__title">{}</h3>\n    </div>\n    <dl '
        'class="nhsuk-summary-list cr-version__facts">{}\n    </dl>\n    <div '
        'class="cr-actions">{}</div>\n  </li>\n',
        v.number,
        _tags(v, first, page),
        _facts(v),
        _actions(v, first, page),
    )


@register.simple_tag(takes_context=True)
def version_items(context: template.Context) -> SafeString:
    versions: list[Any] = context.get("versions") or []
    if not versions:
        return EMPTY
    page = _Page(context)
    return SafeString("".join(_item(v, i == 0, page) for i, v in enumerate(versions)))


@register.simple_tag(takes_context=True)
def kept_version_items(context: template.Context) -> SafeString:
    """``{% version_items %}`` as kept between requests (``documents.fragments``), when the
    page's view has made ``versions_fragment``; else drawn now."""
    kept = context.get("versions_fragment")
    if kept is None:
        return version_items(context)
    return SafeString(kept.html(context.get("csrf_token")))


@register.simple_tag
def version_options(versions: list[Any], selected: Any, prefix: str, latest: Any) -> SafeString:
    """An ``<option>`` for each of ``versions`` (its number, after ``prefix``), ``selected``'s
    chosen and ``latest``'s marked "(latest)": the choice of a version in the page's forms, as
    ``{% for v in versions %}<option ...>{% endfor %}`` wrote it (fifty versions cost that loop
    a millisecond a list)."""
    before = conditional_escape(prefix)
    return SafeString(
        "".join(
            f'<option value="{int(v.number)}"{" selected" if v.number == selected else ""}>'
            f"{before}{int(v.number)}{' (latest)' if v.number == latest else ''}</option>"
            for v in versions
        )
    )
