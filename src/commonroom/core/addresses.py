"""Addresses reversed once and kept: what Django's ``reverse`` answers for a name and plain
arguments, remembered per process (``{% url %}`` in every template, core/templatetags/urls.py,
and code that builds the same addresses, e.g. a notification's link). A page names a few dozen
addresses (the header's links, each form's action: the document page 30 for its manager), and
Django works each one out again on every drawing: about 25 microseconds a reversal, 0.4 to 0.8
ms of a page. The address a name and its arguments reverse to depends on nothing else than the
URL configuration in use (the request's own or ``settings.ROOT_URLCONF``), the script prefix the
site is served under, the language (a translated pattern) and the current application (a
namespace's instance): with all of them in the key, an address reversed once is the address
Django would work out again. Kept only when the name and every argument is a string, an integer
or a UUID (what the URL converters turn into the same text every time); anything else (a model
object, whose text is its ``__str__``) is reversed as Django does, each time. At most
:data:`KEPT` addresses a process, the least recently used dropped first; a reversal that fails
is not kept. The URL configuration is code: it changes with the process, and a setting changed
in a test (``ROOT_URLCONF``) is in the key and empties the memo. ``core/tests/test_url_tag.py``
holds it to Django's ``reverse`` and tag."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.safestring import SafeString
from django.utils.translation import get_language

KEPT = 1024
# A template's quoted name or argument is a ``SafeString``: the same text.
_PLAIN = frozenset({str, SafeString, int, uuid.UUID})


@functools.lru_cache(maxsize=KEPT)
def _reversed(
    view_name: str,
    args: tuple[Any, ...],
    kwargs: tuple[tuple[str, Any], ...],
    current_app: str | None,
    urlconf: Any,
    root_urlconf: Any,
    prefix: str,
    language: str | None,
) -> str:
    """``reverse`` of these; ``root_urlconf``, ``prefix`` and ``language`` only in the key
    (``reverse`` reads them itself, as they are while this runs)."""
    return reverse(
        view_name, urlconf=urlconf, args=args, kwargs=dict(kwargs), current_app=current_app
    )


def reverse_kept(
    view_name: Any, args: list[Any], kwargs: dict[str, Any], current_app: str | None
) -> str:
    """What ``reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)`` answers,
    kept for plain arguments."""
    if (
        type(view_name) in _PLAIN
        and all(type(arg) in _PLAIN for arg in args)
        and all(type(value) in _PLAIN for value in kwargs.values())
        and (current_app is None or type(current_app) in _PLAIN)
    ):
        return _reversed(
            view_name,
            tuple(args),
            tuple(sorted(kwargs.items())),
            current_app,
            get_urlconf(),
            settings.ROOT_URLCONF,
            get_script_prefix(),
            get_language(),
        )
    return reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)


@receiver(setting_changed)
def _forget(*, setting: str, **_: Any) -> None:
    if setting in {"ROOT_URLCONF", "FORCE_SCRIPT_NAME"}:
        _reversed.cache_clear()
