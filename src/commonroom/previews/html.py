"""Sanitising a converter's HTML for the reader, and giving each block a stable anchor.

Every converter's HTML goes through :func:`document_html` before it leaves the sandbox:

- only the tags and attributes of a document are kept (an allow-list; ``script``, ``style``,
  ``iframe``, event handlers and inline styles never survive);
- links are ``http``/``https``/``mailto`` only and carry ``rel="noopener noreferrer"``; any other
  link (``javascript:``, ``data:``, relative) keeps its words but loses its ``href``;
- an image's ``src`` must be a ``{{file:<name>}}`` placeholder for a file the converter wrote;
  the app replaces it with a URL that checks the reader's access (anything else is dropped);
- each paragraph-level block gets ``id="p-<n>"`` (1, 2, 3… in document order), so a comment can
  point at a passage and the same file always gives the same anchors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import nh3

DOCUMENT_TAGS = frozenset(
    {
        "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote", "pre", "code",
        "ul", "ol", "li", "dl", "dt", "dd",
        "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
        "strong", "b", "em", "i", "u", "s", "sup", "sub", "small", "mark",
        "a", "img", "ins", "del", "span", "div", "section", "aside", "figure", "figcaption",
        "details", "summary",
    }
)  # fmt: skip
DOCUMENT_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
    "ins": {"title"},
    "del": {"title"},
    "*": {"class"},
}
SCHEMES = {"http", "https", "mailto"}

# Our own presentational classes (app.css): the only class names kept.
CLASSES = frozenset(
    {
        "cr-preview-note", "cr-preview-comments", "cr-preview-comment", "cr-preview-changes",
        "cr-preview-table", "cr-preview-slide", "cr-preview-sheet", "cr-preview-page",
        "cr-preview-image", "cr-preview-text", "cr-preview-author", "cr-cell-long",
        "cr-preview-page-text", "cr-preview-page-top", "cr-preview-page-bottom",
        "cr-preview-page-number", "cr-preview-page-header", "cr-preview-page-footer",
    }
)  # fmt: skip

FILE_REF = re.compile(r"\{\{file:([A-Za-z0-9._-]{1,100})\}\}")
_FILE_REF_WHOLE = re.compile(r"^\{\{file:[A-Za-z0-9._-]{1,100}\}\}$")
_LINK = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)
_NUMBER = re.compile(r"^[0-9]{1,4}$")
ANCHORED = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "table", "dt", "dd")
_BLOCK_START = re.compile(r"<(" + "|".join(ANCHORED) + r")(?=[\s>])")


_ANCHOR_ID = re.compile(r"^p-[0-9]{1,7}$")


def _filter(element: str, attribute: str, value: str) -> str | None:
    if attribute == "id":
        return value if _ANCHOR_ID.match(value) else None
    if attribute == "loading":
        return value if value == "lazy" else None
    if element == "img" and attribute == "src":
        return value if _FILE_REF_WHOLE.match(value) else None
    if element == "a" and attribute == "href":
        return value if _LINK.match(value.strip()) else None
    if attribute in {"colspan", "rowspan", "start", "width", "height"}:
        return value if _NUMBER.match(value) else None
    if attribute == "class":
        kept = [name for name in value.split() if name in CLASSES]
        return " ".join(kept) or None
    return value


def sanitise(
    html: str,
    *,
    extra_tags: Iterable[str] = (),
    extra_attributes: dict[str, set[str]] | None = None,
) -> str:
    """``html`` with only a document's tags and attributes (plus ``extra_*``), links and image
    sources restricted as the module says. Comments, ``script``/``style`` contents are removed."""
    attributes = {tag: set(names) for tag, names in DOCUMENT_ATTRIBUTES.items()}
    for tag, names in (extra_attributes or {}).items():
        attributes.setdefault(tag, set()).update(names)
    return nh3.clean(
        html,
        tags=set(DOCUMENT_TAGS) | set(extra_tags),
        clean_content_tags={"script", "style"},
        attributes=attributes,
        url_schemes=SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
        attribute_filter=_filter,
    )


# What a converter may add to a document's tags: anchors on blocks, lazy page images.
RESULT_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: {"id"} for tag in (*ANCHORED, "figure", "section", "tr")},
    "img": {"loading"},
}


def from_sandbox(html: str) -> str:
    """A converter's HTML sanitised again in the app, whatever the child process answered: the
    child parses hostile files, so its answer is not trusted to be clean. Anchors (``p-<n>``)
    and lazy images survive; nothing else beyond a document's allow-list does."""
    return sanitise(html, extra_attributes=RESULT_ATTRIBUTES)


def anchor_blocks(html: str, *, start: int = 1) -> str:
    """Sanitised ``html`` with ``id="p-<n>"`` on each paragraph-level block, numbered in order.
    (Sanitised HTML has no ``id`` attributes and no ``<`` in text, so the tags are found
    exactly.)"""
    counter = iter(range(start, 10**9))
    return _BLOCK_START.sub(lambda m: f'<{m.group(1)} id="p-{next(counter)}"', html)


def document_html(
    html: str,
    *,
    extra_tags: Iterable[str] = (),
    extra_attributes: dict[str, set[str]] | None = None,
) -> str:
    """Sanitised, then anchored: what every converter returns as ``Result.html``."""
    return anchor_blocks(sanitise(html, extra_tags=extra_tags, extra_attributes=extra_attributes))


def file_names(html: str) -> set[str]:
    """The output files an HTML refers to."""
    return set(FILE_REF.findall(html))


_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>")
_ID = re.compile(r'\sid="(p-[0-9]{1,9})"')
_VOID = frozenset({"br", "hr", "img", "wbr", "col", "area", "input", "meta", "link", "source"})


def insert_after_blocks(html: str, inserts: dict[str, str]) -> str:
    """Anchored ``html`` with ``inserts[block_id]`` (trusted HTML) put right after the end of the
    block with that id; the blocks and their text are left as they are. Blocks not in the HTML
    are skipped. (The preview HTML is serialised by the sanitiser, so every element is closed.)"""
    if not inserts:
        return html
    positions: list[tuple[int, str]] = []
    open_tags: list[tuple[str, str | None]] = []
    for match in _TAG.finditer(html):
        closing, name = match.group(1), match.group(2).lower()
        if name in _VOID:
            continue
        if not closing:
            found = _ID.search(match.group(3))
            block = found.group(1) if found and found.group(1) in inserts else None
            if not match.group(3).rstrip().endswith("/"):
                open_tags.append((name, block))
            continue
        while open_tags:
            opened, block = open_tags.pop()
            if block is not None:
                positions.append((match.end(), inserts[block]))
            if opened == name:
                break
    out, last = [], 0
    for at, extra in sorted(positions, key=lambda p: p[0]):
        out.append(html[last:at])
        out.append(extra)
        last = at
    out.append(html[last:])
    return "".join(out)
