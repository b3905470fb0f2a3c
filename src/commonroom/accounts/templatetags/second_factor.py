"""What the second factor's pages need: an authenticator app's key in groups of four, easy to
read and type (``{{ secret|in_fours }}``); whether a person has a code by email
(``{{ user|has_email_code }}``); and the way back to where they were going
(``{% second_factor_continue as url %}``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import template

from commonroom.accounts.selectors import (
    email_code_enabled,
    second_factor_kinds,
    second_factor_next,
)

if TYPE_CHECKING:
    from commonroom.accounts.models import User

register = template.Library()


@register.filter
def in_fours(secret: str) -> str:
    """ "JBSWY3DPEHPK3PXP" as "JBSW Y3DP EHPK 3PXP": apps take the key with or without spaces."""
    text = "".join(str(secret).split())
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


@register.filter
def has_email_code(user: User | None) -> bool:
    return bool(user is not None and user.pk and email_code_enabled(user))


@register.simple_tag(takes_context=True)
def second_factor_continue(context: Any) -> str | None:
    """Where the person was going before they were sent to set up a second factor, if they
    were (the page kept by ``views.second_factor``), else None."""
    request = context.get("request")
    return second_factor_next(request) if request is not None else None


@register.filter
def factor_kinds(user: User | None) -> set[str]:
    """The kinds of second factor ``user`` has ("totp", "webauthn", "email_code")."""
    return second_factor_kinds(user) if user is not None and user.pk else set()
