"""What every page needs to know about the person reading it: their account's abilities, and
whether they still have to set up the second factor the policy asks of them (then the page
opens no live socket, which would be refused)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from commonroom.accounts.middleware import ALLOWED_PREFIXES
from commonroom.accounts.permissions import account_abilities
from commonroom.accounts.selectors import second_factor_missing


def account(request: HttpRequest) -> dict[str, Any]:
    def second_factor_pending() -> bool:
        """Asked only by a page that reads it (the template calls it), and answered from the
        database only where the policy's middleware lets such a person through."""
        user = getattr(request, "user", None)
        return bool(
            user is not None
            and user.is_authenticated
            and request.path.startswith(ALLOWED_PREFIXES)
            and second_factor_missing(user, getattr(request, "session", None))
        )

    pending: Callable[[], bool] = second_factor_pending
    return {
        "account_abilities": account_abilities(getattr(request, "user", None)),
        "second_factor_pending": pending,
    }
