"""How allauth behaves here: no open sign-up (people arrive by invitation or are created by an
administrator), failed sign-ins counted per account whatever address the request was sent to,
and a sign-in refused by the rate limit is audited like any failed sign-in.

Failures of the password itself are audited by :mod:`commonroom.accounts.receivers` (Django's
``user_login_failed`` signal); an attempt refused by the rate limit never reaches the password
check, so it is recorded here: once per address, account and minute, so that a flood of refused
attempts cannot flood the audit trail (each row takes the chain's lock).

Sessions ended from allauth's sessions page (``/accounts/sessions/``) end through
``services.sessions_end``, so what they opened closes with them and the trail says so.

The second factor: allauth's sign-in stages gain ours, which asks for a code sent by email
(``stages.EmailCodeStage``), right after allauth.mfa's own; a code by email is offered among the
ways to confirm it is you; and a person who proved who they are in this session within allauth's
reauthentication window (``ACCOUNT_REAUTHENTICATION_TIMEOUT``: signed in, or set their password
on accepting an invitation, minutes ago) is not asked to confirm it again before changing their
second factors (``selectors.proved_identity_recently``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse

from commonroom.accounts.selectors import (
    SSO_SESSION_KEY,
    email_code_enabled,
    proved_identity_recently,
)
from commonroom.accounts.services import attempted_email, sessions_end, sign_in_failure_record
from commonroom.accounts.sso import end_session_url
from commonroom.core.request_info import RequestInfo

MFA_STAGE = "allauth.mfa.stages.AuthenticateStage"
SSO_AWARE_MFA_STAGE = "commonroom.accounts.sso.SsoAwareAuthenticateStage"
EMAIL_CODE_STAGE = "commonroom.accounts.stages.EmailCodeStage"


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def get_login_stages(self) -> list[str]:
        """allauth's, with its second-factor step skipped for someone whose identity provider
        did one (single sign-on: accounts/sso.py), and ours (a code by email) right after it."""
        stages: list[str] = []
        for stage in super().get_login_stages():
            if stage == MFA_STAGE:
                stages += [SSO_AWARE_MFA_STAGE, EMAIL_CODE_STAGE]
            else:
                stages.append(stage)
        if EMAIL_CODE_STAGE not in stages:
            stages.append(EMAIL_CODE_STAGE)
        return stages

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """allauth's rule, except for a person who proved who they are in this session within
        allauth's reauthentication window: minutes after signing in (or setting their password
        on accepting an invitation) nobody is asked for it again."""
        if not super().is_reauthentication_required(app=app, **kwargs):
            return False
        return self.request is None or not proved_identity_recently(self.request)

    def get_reauthentication_methods(
        self, user: AbstractBaseUser | AnonymousUser
    ) -> list[dict[str, Any]]:
        """allauth's ways to confirm it is you, and a code by email for a person who has one."""
        methods = list(super().get_reauthentication_methods(user))
        if user.is_authenticated and email_code_enabled(user):  # type: ignore[arg-type]
            methods.append(
                {
                    "id": "email_code",
                    "description": "Email me a code",
                    "url": reverse("account_email_code_confirm"),
                }
            )
        return methods

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
