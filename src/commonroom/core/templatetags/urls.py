"""``{% url %}``, Django's tag with its reversals kept (a builtin of the template engine,
``settings.TEMPLATES``, so every template's ``{% url %}`` is this one): Django's ``URLNode``
whose reversal is :func:`commonroom.core.addresses.reverse_kept` (what is kept, under which
key, and why it is the address Django would work out again, is said there). A reversal that
fails fails, or sets nothing ``as`` a variable, as Django's does. ``core/tests/test_url_tag.py``
holds it to Django's tag."""

from __future__ import annotations

from typing import Any

from django import template
from django.template import defaulttags
from django.template.base import Parser, Token
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape

from commonroom.core import addresses

register = template.Library()


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
            url = addresses.reverse_kept(view_name, args, kwargs, current_app)
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
