"""``{% fragment f %}``: a kept page fragment (``core.fragments.Fragment``) with this request's
CSRF token in its forms; nothing for ``None``."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from commonroom.core.fragments import Fragment

register = template.Library()


@register.simple_tag(takes_context=True)
def fragment(context: template.Context, found: Fragment | None) -> SafeString:
    if found is None:
        return mark_safe("")
    return found.html(context.get("csrf_token"))
