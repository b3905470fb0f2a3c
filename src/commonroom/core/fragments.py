"""Rendered page fragments kept between requests: a part of a page that costs much to read and
draw (the document page's comment threads, its versions) drawn once and shown again while
nothing it shows has changed.

A :class:`Fragment` is a name, a **key** and a way to **build** its HTML. What must always hold:

- **The key names everything the HTML depends on**, read cheaply on each request before the
  fragment is looked up: the workspace's newest live event (``live.selectors.latest_event_id``,
  written in the same transaction as every change live screens follow, or after the change's
  own commit, never before it), the reader's id and abilities, the language. A change that
  moves none of them must not change the HTML. The key is read *before* the HTML is built, so
  a change committed in between is drawn under the older key, never the other way round.
- **People's names are checked, not keyed.** A name or an email address changes without an
  event; every person whose name a fragment shows is noted while it is built
  (:func:`person_shown`, called by ``accounts.models.User`` whenever a name, a guest mark or a
  guest's domain is read) and the fragment is kept with a digest of those people as they were
  (``people``: one query for all of them). A fragment whose people read differently now is
  built again.
- **Nothing of one request is kept.** The CSRF token goes in as a hole (:data:`CSRF_HOLE`,
  random for each process) and each request's own token is put in its place when the fragment
  is shown; the reader's id is part of the key of anything drawn for them.

A :class:`Fragment` is kept as its UTF-8 bytes cut at the CSRF holes. A page drawn by
:func:`render_page` takes them as they are: the template writes a mark where each goes
(:data:`_MARK`, random for each process) and the answer's bytes are the template's text,
encoded, with each mark's pieces and this request's token put between them, joined once
(decision 53). The same bytes as the fragment's text drawn into the template and the page
encoded, without carrying a page's hundreds of kilobytes of kept HTML up through every level of
the template's nesting, decoding it from the cache and encoding it again.

The fragments are kept in the ``fragments`` cache (``settings.CACHES``): each process's own
memory, whatever the installation shares. That is safe because nothing is trusted from it
without its key read from the database first: a write made by any process (a web process, a
worker, ``manage.py shell``) changes the key every process reads next. Entries expire after
``COMMONROOM_FRAGMENT_SECONDS`` (ten minutes by default), well inside the thirty days live
events are kept, so a workspace whose events were all pruned (its newest id read as 0) never
finds a fragment from before the pruning.

Decision 39 says why, and what was left out.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import secrets
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

CACHE = "fragments"

# Stands for the page's CSRF token while a fragment is built (any token a form would carry is
# put there when it is shown). Random for each process: a comment cannot spell it.
CSRF_HOLE = f"csrfhole{secrets.token_hex(16)}"
_HOLE = CSRF_HOLE.encode()

# Where a kept fragment's bytes go in a page drawn by :func:`render_page`: the mark, the
# fragment's number in the page, ";". Random for each process, so nothing a reader typed spells
# it; never kept (a fragment built while a page is drawn is built without marks).
_MARK = f"fragmentmark{secrets.token_hex(16)}:"
_MARKS = re.compile(re.escape(_MARK) + r"([0-9]+);")

# The kept fragments of the page :func:`render_page` is drawing, each with its token: its
# marks' numbers are their places here.
_page: ContextVar[list[tuple[tuple[bytes, ...], bytes]] | None] = ContextVar(
    "fragment_page", default=None
)

# The field ``{% csrf_token %}`` writes, as the fragments' builders write it (:func:`csrf_field`).
_NO_TOKEN = "NOTPROVIDED"  # noqa: S105 (Django's context value when a request has no token)
CSRF_FIELD = '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'


def csrf_field(value: Any) -> SafeString:
    """What ``{% csrf_token %}`` writes for the page's token ``value`` (nothing for none): the
    one spelling of the field, for every tag that draws a form without the template's tag, so
    that :meth:`Fragment.html` finds the field it puts each request's token in."""
    if not value or value == _NO_TOKEN:
        return mark_safe("")
    return format_html(CSRF_FIELD, value)


_people: ContextVar[set[Any] | None] = ContextVar("fragment_people", default=None)

PeopleDigest = Callable[[Collection[Any]], str]


def nobody(ids: Collection[Any]) -> str:
    """The people digest of what names nobody (or keys the names it shows itself)."""
    return ""


def person_shown(pk: Any) -> None:
    """Note that the person ``pk``'s name (or guest mark) is drawn: kept with the fragment
    being built, if any, and checked each time it is shown again."""
    noted = _people.get()
    if noted is not None:
        noted.add(pk)


@contextmanager
def _noting_people() -> Iterator[set[Any]]:
    noted: set[Any] = set()
    outer = _people.get()
    token = _people.set(noted)
    try:
        yield noted
    finally:
        _people.reset(token)
        if outer is not None:  # built within another: it names them too
            outer.update(noted)


@dataclass(frozen=True)
class _Kept:
    people: tuple[Any, ...]
    digest: str
    value: Any


def cache_key(name: str, key: tuple[Any, ...]) -> str:
    """``name`` and a digest of ``key``'s pickle, which only an equal value of the same types
    writes (``1`` is not ``True``): cheaper than its ``repr`` (a page's versions, readers and
    approvers: about 0.6 -> 0.2 ms). A value shared between two places of a key is written
    once and named again, so an equal key whose parts are shared otherwise is another digest:
    a fragment drawn again, never another's shown. A page's keys are made the same way on
    every request."""
    return f"{name}:" + hashlib.sha256(pickle.dumps(key, protocol=5)).hexdigest()


def kept(name: str, key: tuple[Any, ...], build: Callable[[], Any], *, people: PeopleDigest) -> Any:
    """What ``build()`` made under ``key`` (anything the cache can keep), made again if it was
    not kept or a person it names is named differently now. The rules of :class:`Fragment`
    hold for ``key``."""
    cache = caches[CACHE]
    found_key = cache_key(name, key)
    found: _Kept | None = cache.get(found_key)
    if found is not None and people(found.people) == found.digest:
        for pk in found.people:  # within another being built, it names them too
            person_shown(pk)
        return found.value
    with _noting_people() as noted:
        drawing = _page.set(None)  # what is kept holds every fragment's HTML, never a mark
        try:
            value = build()
        finally:
            _page.reset(drawing)
    named = tuple(sorted(noted, key=str))
    cache.set(found_key, _Kept(named, people(named), value))
    return value


@dataclass(frozen=True)
class Fragment:
    """One fragment of a page: ``build(token)`` draws it with ``token`` as each form's CSRF
    token; ``key`` names everything it depends on but people's names; ``people`` digests the
    people named (``accounts.selectors.people_digest``)."""

    name: str
    key: tuple[Any, ...]
    build: Callable[[str], str]
    people: PeopleDigest

    def pieces(self) -> tuple[bytes, ...]:
        """The fragment's UTF-8 bytes cut at its CSRF holes: kept, if what it shows has not
        changed, else built and kept."""
        pieces: tuple[bytes, ...] = kept(
            self.name,
            self.key,
            lambda: tuple(str(self.build(CSRF_HOLE)).encode().split(_HOLE)),
            people=self.people,
        )
        return pieces

    def html(self, csrf_token: Any) -> SafeString:
        """The fragment as this request shows it, with this request's CSRF token: where a page
        is drawn by :func:`render_page`, a mark its bytes are put in place of."""
        pieces = self.pieces()
        token = "" if not csrf_token else str(csrf_token)
        if token in ("", _NO_TOKEN):  # as ``{% csrf_token %}`` writes it: no field
            html = _HOLE.join(pieces).decode().replace(CSRF_FIELD.format(CSRF_HOLE), "")
            return mark_safe(html)  # noqa: S308 (built escaped)
        filled = escape(token).encode()
        page = _page.get()
        if page is not None:
            page.append((pieces, filled))
            return mark_safe(f"{_MARK}{len(page) - 1};")  # noqa: S308 (a mark of this process's)
        return mark_safe(filled.join(pieces).decode())  # noqa: S308 (built escaped, the token too)


def render_page(
    request: HttpRequest, template_name: str, context: Mapping[str, Any]
) -> HttpResponse:
    """``django.shortcuts.render(request, template_name, context)``, byte for byte, with the
    page's kept fragments put into its bytes once, where the template wrote their marks."""
    if settings.DEFAULT_CHARSET.lower().replace("_", "-") not in ("utf-8", "utf8"):
        return HttpResponse(loader.render_to_string(template_name, context, request))
    held: list[tuple[tuple[bytes, ...], bytes]] = []
    drawing = _page.set(held)
    try:
        text = loader.render_to_string(template_name, context, request)
    finally:
        _page.reset(drawing)
    return HttpResponse(assembled(text, held))


def assembled(text: str, held: list[tuple[tuple[bytes, ...], bytes]]) -> bytes:
    """``text`` as UTF-8 with each mark in it replaced by its fragment's pieces joined by its
    token (``held`` in the marks' numbers' order)."""
    if not held:
        return text.encode()
    parts = _MARKS.split(text)  # the text, a mark's number, the text, ...
    out: list[bytes] = []
    for n, part in enumerate(parts):
        if n % 2 == 0:
            out.append(part.encode())
            continue
        pieces, token = held[int(part)]
        out.append(pieces[0])
        for piece in pieces[1:]:
            out.append(token)
            out.append(piece)
    return b"".join(out)
