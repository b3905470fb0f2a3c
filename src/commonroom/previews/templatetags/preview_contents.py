"""``{% preview_contents preview.outline %}``: a preview's contents list (its headings and its
pages, to jump to), or nothing when it is not worth one (``Outline.shown``).

Written with ``format_html`` rather than template markup, as the document page's other long
lists are (the versions, the readers): a report has hundreds of headings, each of which cost
the template's loop several variable lookups on every drawing of the page. It says exactly what
the markup it replaced said (``previews/tests/test_preview_contents.py`` holds them equal),
every value escaped."""

from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from commonroom.previews.outline import Outline

register = template.Library()


def _summary(outline: Outline) -> str:
    if len(outline.headings) > 1:
        return "Contents and pages" if len(outline.pages) > 1 else "Contents"
    return "Pages"


def _headings(outline: Outline) -> SafeString:
    if len(outline.headings) <= 1:
        return mark_safe("")
    items = format_html_join(
        "",
        '<li class="cr-preview-contents__level-{}"><a class="nhsuk-link" href="#{}" '
        "data-preview-jump>{}</a></li>",
        ((h.level, h.id, h.text) for h in outline.headings),
    )
    return format_html(
        '<nav aria-label="Headings of the document"><ol class="nhsuk-list '
        'cr-preview-contents__headings">{}</ol></nav>',
        items,
    )


def _pages(outline: Outline) -> SafeString:
    if len(outline.pages) <= 1:
        return mark_safe("")
    items = format_html_join(
        "",
        '<li><a class="nhsuk-link" href="#{}" data-preview-jump><span '
        'class="nhsuk-u-visually-hidden">Page </span>{}</a></li>',
        ((p.id, p.number) for p in outline.pages),
    )
    return format_html(
        '<nav aria-label="Pages of the document"><p class="nhsuk-body-s '
        'cr-preview-contents__pages-title">Go to page</p><ul class="nhsuk-list '
        'cr-preview-contents__pages">{}</ul></nav>',
        items,
    )


@register.simple_tag
def preview_contents(outline: Outline | None) -> SafeString:
    """The contents list of a preview's ``outline`` (its ``<details>`` and the line breaks
    around it), or nothing."""
    if outline is None or not outline.shown:
        return mark_safe("")
    return format_html(
        '\n  <details class="nhsuk-details cr-preview-contents">\n'
        '    <summary class="nhsuk-details__summary"><span class="nhsuk-details__summary-text">'
        "{}</span></summary>\n"
        '    <div class="nhsuk-details__text">\n'
        "      {}\n"
        "      {}\n"
        "    </div>\n"
        "  </details>\n  ",
        _summary(outline),
        _headings(outline),
        _pages(outline),
    )
