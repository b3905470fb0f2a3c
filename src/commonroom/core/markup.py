"""Markdown-lite for comments and messages: bold, italic, links, lists, quotes and inline code,
rendered by markdown-it-py and then cleaned by nh3 (the Ammonia sanitiser), and @mentions.
Code is inline (`x`) or a fenced block (```), shown as it is typed.

Invariants:
- the HTML this returns holds only the tags and attributes in ``_TAGS``/``_ATTRIBUTES``; links
  are http(s) or mailto only and carry ``rel="noopener noreferrer"``; raw HTML typed by a person
  is shown as text, never parsed;
- a mention is ``@`` at the start of a word followed by a member's email address, or by the part
  before the ``@`` of it when that is unique in the workspace; every mention must resolve, so
  mentioning a non-member is refused rather than silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html import escape, unescape
from typing import Any

import nh3
from django.utils.html import strip_tags
from markdown_it import MarkdownIt

from commonroom.core.exceptions import ApplicationError

_TAGS = {"p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "pre", "code", "span"}
_ATTRIBUTES = {"a": {"href"}, "span": {"class"}, "ol": {"start"}}
_SCHEMES = {"http", "https", "mailto"}

# "zero" enables nothing; switch on only what Markdown-lite offers. No headings, images, tables
# or raw HTML: ``html=False`` makes typed tags plain text.
_RULES = ["emphasis", "link", "list", "blockquote", "backticks", "fence", "newline", "escape"]
_md = MarkdownIt("zero", {"html": False, "breaks": True, "linkify": True}).enable(
    [*_RULES, "autolink", "linkify"]
)
# A pasted address becomes a link; a bare "example.org" (no scheme) stays text.
if _md.linkify is not None:
    _md.linkify.set({"fuzzy_link": False, "fuzzy_email": False})

# "@" at the start of a word: "write to bob@nhs.net" is an address, not a mention.
MENTION = re.compile(r"(?<![\w@./-])@([A-Za-z0-9._%+-]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)")
_TAG_OR_TEXT = re.compile(r"(<[^>]*>)")


@dataclass
class Rendered:
    html: str
    mentioned: list[Any] = field(default_factory=list)


def mention_handles(text: str) -> list[str]:
    """The handles typed after ``@``, in order, each once (lower-cased)."""
    seen: dict[str, None] = {}
    for match in MENTION.finditer(text):
        seen.setdefault(match.group(1).rstrip(".").lower(), None)
    return list(seen)


def resolver_for(members: Iterable[Any]) -> Callable[[str], Any | None]:
    """Look a handle up among ``members`` (users): a whole email address, or a local part that
    only one member has."""
    by_email: dict[str, Any] = {}
    by_local: dict[str, list[Any]] = {}
    for user in members:
        email = user.email.lower()
        by_email[email] = user
        by_local.setdefault(email.split("@", 1)[0], []).append(user)

    def resolve(handle: str) -> Any | None:
        if "@" in handle:
            return by_email.get(handle)
        found = by_local.get(handle, [])
        return found[0] if len(found) == 1 else None

    return resolve


def render(text: str, *, resolve: Callable[[str], Any | None] | None = None) -> Rendered:
    """``text`` (already cleaned plain text) as safe HTML, with its mentions resolved.

    Raises :class:`ApplicationError` naming the first handle that is not a member."""
    html = nh3.clean(
        _md.render(text),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    # Code is shown as typed: "@property" in a code block mentions no one.
    words = " ".join(part for part, where in _parts(html) if "code" not in where)
    mentioned: dict[str, Any] = {}
    for handle in mention_handles(words):
        user = resolve(handle) if resolve is not None else None
        if user is None:
            raise ApplicationError(
                f"@{handle} is not a member of this workspace. Mention people from the list that "
                "appears as you type, or put a space after the @.",
                code="unknown_mention",
            )
        mentioned[handle] = user
    if mentioned:
        html = _mark_mentions(html, mentioned)
    unique = list({u.pk: u for u in mentioned.values()}.values())
    return Rendered(html=html, mentioned=unique)


def as_text(html: str) -> str:
    """The words of rendered HTML, for an excerpt in a list or an email (no Markdown marks)."""
    return unescape(strip_tags(html.replace("</p>", "</p> ").replace("<br>", " ")))


def _parts(html: str) -> list[tuple[str, set[str]]]:
    """``html`` split into tags and text, each text with the set of ``a``/``code`` elements it
    is inside (tags come with an empty set and start with ``<``)."""
    parts: list[tuple[str, set[str]]] = []
    depth = {"a": 0, "code": 0}
    for part in _TAG_OR_TEXT.split(html):
        if part.startswith("<"):
            name = part.strip("</>").split(" ", 1)[0]
            if name in depth:
                depth[name] = max(0, depth[name] + (-1 if part.startswith("</") else 1))
            parts.append((part, set()))
        else:
            parts.append((part, {name for name, n in depth.items() if n}))
    return parts


def _mark_mentions(html: str, mentioned: dict[str, Any]) -> str:
    """Wrap each mention in the text (never inside a tag, a link or code) in a labelled span."""
    return "".join(
        part if part.startswith("<") or where else _mark_text(part, mentioned)
        for part, where in _parts(html)
    )


def _mark_text(text: str, mentioned: dict[str, Any]) -> str:
    """``text`` (escaped HTML, outside tags and links) with each resolved mention labelled."""
    out: list[str] = []
    pos = 0
    for match in MENTION.finditer(text):
        handle = match.group(1).rstrip(".").lower()
        user = mentioned.get(handle)
        if user is None:
            continue
        tail = match.group(1)[len(handle) :]
        end = match.end()
        if not tail:
            end += _repeated_name(handle, user.display_name, text[end:])
        out.append(text[pos : match.start()])
        out.append(f'<span class="cr-mention">@{escape(user.display_name)}</span>{tail}')
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _alnum(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def _repeated_name(handle: str, name: str, after: str) -> int:
    """How many characters of ``after`` repeat the rest of ``name`` once ``handle`` has stood for
    its first words: "@priya Shah" typed by hand for Priya Shah is one mention, not "@Priya Shah
    Shah". 0 when they do not (the handle covers no first word, or the words differ)."""
    words = name.split()
    local = _alnum(handle.split("@", 1)[0])
    covered = 0
    for k in range(1, len(words) + 1):
        first = _alnum("".join(words[:k]))
        if first and local.startswith(first):
            covered = k
    rest = words[covered:]
    if not covered or not rest:
        return 0
    pattern = r"\s+".join(re.escape(escape(w, quote=False)) for w in rest)
    found = re.match(rf"[ \t]+{pattern}(?!\w)", after, re.IGNORECASE)
    return found.end() if found else 0
