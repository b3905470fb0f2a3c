"""How API callers authenticate: a personal access token or the signed-in browser session.

Managing tokens (``/me/tokens``) takes the browser session only, so a leaked token can never mint
tokens that outlive its own revocation.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from commonroom.accounts.selectors import token_authenticate, token_read_for
from commonroom.core.exceptions import PermissionDenied
from commonroom.core.request_info import client_ip

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class TokenAuth(HttpBearer):
    """Personal access tokens; the acting user becomes ``request.user``."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        # The guard in front of an upload read this token's row a moment ago: judged again
        # here, not read again.
        found = token_authenticate(token, ip=client_ip(request), read=token_read_for(token))
        if found is None:
            return None
        if request.method not in SAFE_METHODS and not found.can_write:
            raise PermissionDenied("This token is read-only.", code="read_only_token")
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]
        return found.user


class BrowserSessionAuth(SessionAuth):
    """The signed-in browser session. A write must carry the session's CSRF token; a request
    with no session is simply not authenticated by this scheme (401, not a CSRF refusal). (A
    session that still lacks a required second factor is refused before, by the middleware.)"""

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise PermissionDenied(
                "The CSRF token is missing or wrong. Reload the page and try again.",
                code="csrf_failed",
            )
        return user
