"""``{{ approver_choices|not_asked:r }}``: the members a request's "Ask someone else too" may
offer, that is those who may approve and are not already asked on it (someone taken off may be
asked again). Reads the request's prefetched approvers: no query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import template

from commonroom.approvals.models import Decision

if TYPE_CHECKING:
    from commonroom.approvals.models import ApprovalRequest

register = template.Library()


@register.filter
def not_asked(choices: list[Any], request: ApprovalRequest) -> list[Any]:
    asked = {a.user_id for a in request.approvers.all() if a.decision != Decision.REMOVED}
    return [user for user in choices if user.pk not in asked]
