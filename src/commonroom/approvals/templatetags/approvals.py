"""``{{ approver_choices|not_asked:r }}``: the members a request's "Ask someone else too" may
offer, that is those who may approve and are not already asked on it (someone taken off may be
asked again). Reads the request's prefetched approvers: no query.

``{% approver_boxes approver_choices %}`` and ``{% approver_options more %}``: the members to
choose from, a checkbox or an option each, written with ``format_html`` rather than template
markup because a trust's workspace offers a few hundred of them on every document page (as the
comment cards, ``comments/templatetags/comment_cards.py``); each name as ``{% person %}`` writes
it, everything escaped. ``approvals/tests/test_choices_markup.py`` holds them equal to the
template markup they replace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from commonroom.accounts.templatetags.people import person
from commonroom.approvals.models import Decision
from commonroom.core.fragments import kept, nobody

if TYPE_CHECKING:
    from commonroom.approvals.models import ApprovalRequest

register = template.Library()


@register.filter
def not_asked(choices: list[Any], request: ApprovalRequest) -> list[Any]:
    asked = {a.user_id for a in request.approvers.all() if a.decision != Decision.REMOVED}
    return [user for user in choices if user.pk not in asked]


_BOX = (
    '<div class="nhsuk-checkboxes__item">\n                <input '
    'class="nhsuk-checkboxes__input" id="approver-{}" name="approvers" type="checkbox" '
    'value="{}">\n                <label class="nhsuk-label nhsuk-checkboxes__label" '
    'for="approver-{}">{} <span class="cr-meta">{}</span></label>\n              </div>'
)


@register.simple_tag
def approver_boxes(choices: list[Any]) -> SafeString:
    """A checkbox for each member who may be asked, in the form that asks for approval: drawn
    once for the same members named the same (``core.fragments``: the key is all it shows)."""
    key = tuple((u.pk, u.email, u.full_name, u.kind) for u in choices)

    def build() -> str:
        return "".join(
            format_html(_BOX, u.pk, u.pk, u.pk, person(u, strong=False), u.email) for u in choices
        )

    return SafeString(kept("approvals.boxes", key, build, people=nobody))


@register.simple_tag
def approver_options(choices: list[Any]) -> SafeString:
    """An option for each member a request may also ask."""
    return SafeString(
        "".join(
            format_html('<option value="{}">{}</option>', u.pk, u.display_name) for u in choices
        )
    )
