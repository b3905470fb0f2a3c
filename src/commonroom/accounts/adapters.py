"""How allauth behaves here: no open sign-up (people arrive by invitation or are created by an
administrator), failed sign-ins counted per account whatever address the request was sent to,
and a sign-in refused by the rate limit is audited like any failed sign-in.

Failures of the password itself are audited by :mod:`commonroom.accounts.receivers` (Django's
``user_login_failed`` signal); an attempt refused by the rate limit never reaches the password
check, so it is recorded here: once per address, account and minute, so that a flood of refused
attempts cannot flood the audit trail (each row takes the chain's lock).

Sessions ended from allauth's sessions page (``/accounts/sessions/``) end through
``services.sessions_end``, so what they opened closes with them and the trail says so.
"""

from __future__ import annotations

import hashlib
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from commonroom.accounts.selectors import SSO_SESSION_KEY
from commonroom.accounts.services import attempted_email, sessions_end, sign_in_failure_record
from commonroom.accounts.sso import end_session_url
from commonroom.core.request_info import RequestInfo


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def get_login_stages(self) -> list[str]:
        """allauth's, with its second-factor step skipped for someone whose identity provider
        did one (single sign-on: accounts/sso.py)."""
        return [
            "commonroom.accounts.sso.SsoAwareAuthenticateStage"
            if stage == "allauth.mfa.stages.AuthenticateStage"
            else stage
            for stage in super().get_login_stages()
        ]

    def get_logout_redirect_url(self, request: HttpRequest) -> str:
        """Signing out of a session made through the identity provider signs out there too,
        when it offers that (allauth asks for this address before the session ends)."""
        session = getattr(request, "session", None)
        record = session.get(SSO_SESSION_KEY) if session is not None else None
        return end_session_url(record, request) or super().get_logout_redirect_url(request)

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        """The account's failed sign-ins are counted under its address alone. allauth adds the
        site's domain, which without ``django.contrib.sites`` is the request's Host header with
        its port: any port passes ``ALLOWED_HOSTS``, so a guesser could start a fresh count by
        changing it, and two servers of one installation reached at different addresses would
        each keep their own count. One installation is one site."""
        return attempted_email(credentials).lower()

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            info = RequestInfo.from_request(request)
            attempted = attempted_email(credentials).lower()
            seen = hashlib.sha256(f"{info.ip}|{attempted}".encode()).hexdigest()
            if cache.add(f"audit-rate-limited:{seen}", True, timeout=60):
                sign_in_failure_record(
                    credentials=credentials, info=info, data={"reason": "rate_limited"}
                )
            raise


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    def end_sessions(self, sessions: Any) -> None:
        request = context.request
        user = getattr(request, "user", None)
        if request is None or user is None or not user.is_authenticated:
            return
        sessions_end(actor=user, sessions=list(sessions), info=RequestInfo.from_request(request))
