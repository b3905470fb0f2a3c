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
import secrets
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

CACHE = "fragments"

# Stands for the page's CSRF token while a fragment is built (any token a form would carry is
# put there when it is shown). Random for each process: a comment cannot spell it.
CSRF_HOLE = f"csrfhole{secrets.token_hex(16)}"

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
    return f"{name}:" + hashlib.sha256(repr(key).encode()).hexdigest()


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
        value = build()
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

    def html(self, csrf_token: Any) -> SafeString:
        """The fragment as this request shows it: kept, if what it shows has not changed, else
        built and kept; with this request's CSRF token."""
        html: str = kept(
            self.name, self.key, lambda: str(self.build(CSRF_HOLE)), people=self.people
        )
        token = "" if not csrf_token else str(csrf_token)
        if token in ("", _NO_TOKEN):  # as ``{% csrf_token %}`` writes it: no field
            html = html.replace(CSRF_FIELD.format(CSRF_HOLE), "")
        else:
            html = html.replace(CSRF_HOLE, escape(token))
        return mark_safe(html)  # noqa: S308 (built escaped, the token escaped here)
