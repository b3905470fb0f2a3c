"""Enforce the second-factor policy (``COMMONROOM_MFA_REQUIRED``: all, staff or none).

A person who must have a second factor and has none can reach only what is needed to set one up
(allauth's pages under /accounts/), an invitation link, static files and the health check. Pages
send them to set one up; the JSON API, used with such a browser session, refuses with 403. API
tokens are not affected here: a token is created from a page, so only after the second factor.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
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
            and second_factor_missing(user, getattr(request, "session", None))
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "code": "second_factor_required",
                        "detail": "Set up a second factor (an authenticator app or a passkey) "
                        "before using the API with this session.",
                    },
                    status=403,
                )
            return redirect("mfa_activate_totp")
        return self.get_response(request)
