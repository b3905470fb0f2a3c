"""``{% unread_conversations access user as n %}``: the viewer's unread messages in a workspace,
for the workspace's section links (one query)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import template

from commonroom.conversations.selectors import unread_total
from commonroom.workspaces.selectors import WorkspaceAccess

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from commonroom.accounts.models import User

register = template.Library()


@register.simple_tag
def unread_conversations(access: WorkspaceAccess | None, user: User | AnonymousUser | None) -> int:
    if access is None or user is None or not user.is_authenticated:
        return 0
    return unread_total(access=access, user=user)
