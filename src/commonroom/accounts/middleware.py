"""Enforce the second-factor policy (``COMMONROOM_MFA_REQUIRED``: all, staff or none).

A person who must have a second factor and has none can reach only what is needed to set one up
(allauth's pages and ours under /accounts/), an invitation link, static files, the health and
readiness checks and the metrics. Pages send them to choose one (``account_second_factor``), with
the page they asked for as ``next`` so that they continue there once it is set up; the JSON API,
used with such a browser session, refuses with 403. API tokens are not affected here: a token is
created from a page, so only after the second factor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.middleware import (
    AuthenticationMiddleware as DjangoAuthenticationMiddleware,
)
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.http import urlencode

from commonroom.accounts.selectors import second_factor_missing
from commonroom.accounts.signed_in import session_user

ALLOWED_PREFIXES = ("/accounts/", "/static/", "/invitations/", "/healthz", "/readyz", "/metrics")


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
                        "detail": "Set up a second factor (a passkey, a code by email or an "
                        "authenticator app) before using the API with this session.",
                    },
                    status=403,
                )
            to = reverse("account_second_factor")
            if request.method in ("GET", "HEAD"):
                to += "?" + urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})
            return HttpResponseRedirect(to)
        return self.get_response(request)


class AuthenticationMiddleware(DjangoAuthenticationMiddleware):
    """Django's, in its place in ``settings.MIDDLEWARE``: ``request.user`` the person
    ``accounts.signed_in.session_user`` finds (``auth.get_user`` with the row read by prepared
    SQL), read on first use and once a request, as Django's does; ``request.auser`` Django's."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user_once(request))  # type: ignore[assignment]


def _user_once(request: HttpRequest) -> Any:
    # The attribute Django's middleware keeps it under (allauth's headless sign-in clears it).
    if not hasattr(request, "_cached_user"):
        request._cached_user = session_user(request)  # type: ignore[attr-defined]
    return request._cached_user  # type: ignore[attr-defined]
