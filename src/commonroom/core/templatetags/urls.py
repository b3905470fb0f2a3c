"""``{% url %}``, Django's tag with its reversals kept (a builtin of the template engine,
``settings.TEMPLATES``, so every template's ``{% url %}`` is this one). A page names a few dozen
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
is not kept (and fails, or sets nothing ``as`` a variable, as Django's does). The URL
configuration is code: it changes with the process, and a setting changed in a test
(``ROOT_URLCONF``) is in the key and empties the memo. ``core/tests/test_url_tag.py`` holds it
to Django's tag."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import defaulttags
from django.template.base import Parser, Token
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()

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


class KeptURLNode(defaulttags.URLNode):
    def render(self, context: Any) -> str:
        # Django's ``URLNode.render``, the reversal kept.
        args = [arg.resolve(context) for arg in self.args]
        kwargs = {k: v.resolve(context) for k, v in self.kwargs.items()}
        view_name = self.view_name.resolve(context)
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = reverse_kept(view_name, args, kwargs, current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        if context.autoescape:
            url = conditional_escape(url)
        return url


@register.tag
def url(parser: Parser, token: Token) -> KeptURLNode:
    """Django's ``{% url %}``, read the same way."""
    node = defaulttags.url(parser, token)
    return KeptURLNode(node.view_name, node.args, node.kwargs, node.asvar)


@receiver(setting_changed)
def _forget(*, setting: str, **_: Any) -> None:
    if setting in {"ROOT_URLCONF", "FORCE_SCRIPT_NAME"}:
        _reversed.cache_clear()
