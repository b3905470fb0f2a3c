"""Enforce the second-factor policy (``COMMONROOM_MFA_REQUIRED``: all, staff or none)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from commonroom.accounts.selectors import second_factor_missing

ALLOWED_PREFIXES = ("/accounts/", "/static/", "/invitations/", "/healthz")


class RequireSecondFactorMiddleware:
    """A person who must have a second factor and has none is sent to set one up first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(ALLOWED_PREFIXES)
            and not request.path.startswith("/api/")
            and second_factor_missing(user)
        ):
            return redirect("mfa_activate_totp")
        return self.get_response(request)
