"""``{% person user %}``: a person's name as every page shows it, with an external guest marked
as such and their email's domain beside it ("Guest · partner.example"), so a guest cannot pass
for a colleague of the same name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.accounts.selectors import PersonRow

register = template.Library()


@register.simple_tag
def person(user: User | PersonRow | None, strong: bool = True) -> SafeString:
    if user is None:
        return format_html("{}", "Someone")
    name = (
        format_html("<strong class='cr-break'>{}</strong>", user.display_name)
        if strong
        else (format_html("<span class='cr-break'>{}</span>", user.display_name))
    )
    if not user.is_guest:
        return name
    return format_html(
        "{} <span class='nhsuk-tag nhsuk-tag--yellow cr-guest'>Guest · {}</span>",
        name,
        user.guest_domain,
    )
