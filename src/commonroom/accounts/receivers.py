"""Sign-in events from Django and allauth, written to the audit trail (a sign-out through
``services.signed_out``, which also tells accounts' followers the session ended).

These receivers are the boundary between the authentication libraries and our services;
they hold no rules of their own.
"""

from __future__ import annotations

from typing import Any

from allauth.account.internal.flows.login import get_authentication_records
from allauth.account.signals import user_signed_up
from allauth.mfa.signals import (
    authentication_failed,
    authenticator_added,
    authenticator_removed,
)
from allauth.socialaccount.signals import social_account_added
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from commonroom.accounts import sso
from commonroom.accounts.services import own_account_record, sign_in_failure_record, signed_out
from commonroom.audit.actions import Action
from commonroom.core.request_info import SYSTEM, RequestInfo


def _info(request: HttpRequest | None) -> RequestInfo:
    return RequestInfo.from_request(request) if request is not None else SYSTEM


def _user_event(
    action: str, user: Any, request: HttpRequest | None, data: dict[str, Any] | None = None
) -> None:
    """An event about a person's own account, with them as actor and target."""
    own_account_record(action, user, _info(request), data)


@receiver(user_logged_in)
def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """A sign-in, with the second factor it used if it used one ("totp", "webauthn",
    "recovery_codes", "email_code": the sign-in's own records say so). One through the identity
    provider says so, with what it said of its own second factor, and keeps that in the session
    (the second-factor policy and signing out read it)."""
    data = dict(sso.sign_in_data(request) or {})
    if request is not None:
        sso.session_record(request)
        records = get_authentication_records(request, user)
        used = [str(r["type"]) for r in records if r.get("method") == "mfa" and r.get("type")]
        if used:
            data["second_factor"] = used[-1]
    _user_event(Action.LOGIN, user, request, data or None)


@receiver(user_signed_up)
def on_signed_up(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """The only sign-up is a staff member's first sign-in through the identity provider."""
    sociallogin = kwargs.get("sociallogin")
    _user_event(
        Action.ACCOUNT_CREATED_SSO,
        user,
        request,
        {"provider": getattr(getattr(sociallogin, "account", None), "provider", "")},
    )


@receiver(social_account_added)
def on_sso_linked(
    sender: Any, request: HttpRequest | None, sociallogin: Any, **kwargs: Any
) -> None:
    """An existing account (found by its address) now signs in through the identity provider."""
    _user_event(
        Action.SSO_LINKED,
        sociallogin.user,
        request,
        {"provider": sociallogin.account.provider, "uid": str(sociallogin.account.uid)[:200]},
    )


@receiver(user_logged_out)
def on_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Sent before the session is flushed: its key is still the one that signed in."""
    if user is not None:
        session = getattr(request, "session", None)
        signed_out(
            actor=user, session_key=getattr(session, "session_key", None), info=_info(request)
        )


@receiver(user_login_failed)
def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    sign_in_failure_record(credentials=credentials, info=_info(request))


@receiver(authentication_failed)
def on_second_factor_failed(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    """A wrong code at the second step: the password was right, the sign-in still failed."""
    data: dict[str, Any] = {"reason": "second_factor"}
    if kwargs.get("reauthentication"):
        data["reauthentication"] = True
    _user_event(Action.LOGIN_FAILED, user, request, data)


@receiver(authenticator_added)
@receiver(authenticator_removed)
def on_mfa_change(
    sender: Any, request: HttpRequest | None, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    added = kwargs.get("signal") is authenticator_added
    _user_event(
        Action.MFA_CHANGED, user, request, {"type": str(authenticator.type), "added": added}
    )
