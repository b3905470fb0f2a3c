"""What every page needs to know about the person reading it: their account's abilities."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from commonroom.accounts.permissions import account_abilities


def account(request: HttpRequest) -> dict[str, Any]:
    return {"account_abilities": account_abilities(getattr(request, "user", None))}
