"""The unread count in the header: one COUNT query, only when a page shows it."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpRequest

from commonroom.notifications.selectors import unread_count


def unread(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def count() -> int:  # templates call it (once: it is cached) where the badge is shown
        return unread_count(user)

    return {"unread_notifications": count}
