"""Writes to accounts: API tokens, signing out (one session, some, or everywhere)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from allauth.usersessions.models import UserSession
from django.db import transaction
from django.utils import timezone

from commonroom.accounts import hooks
from commonroom.accounts.models import ApiToken, TokenScope, User, UserKind
from commonroom.accounts.permissions import api_tokens_refusal
from commonroom.accounts.selectors import TOKEN_PREFIX, hash_secret
from commonroom.audit.actions import Action
from commonroom.audit.services import audit_record
from commonroom.core.exceptions import ApplicationError, NotFound, PermissionDenied
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.text import plain_text


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once, never stored


def attempted_email(credentials: dict[str, Any]) -> str:
    """The address someone tried to sign in as, from allauth's or Django's credentials."""
    return str(credentials.get("email") or credentials.get("username") or "")[:254]


def sign_in_failure_record(
    *, credentials: dict[str, Any], info: RequestInfo, data: dict[str, Any] | None = None
) -> None:
    """Audit a failed sign-in: wrong password, or refused by the rate limit (``data``)."""
    attempted = attempted_email(credentials)
    audit_record(
        action=Action.LOGIN_FAILED,
        actor_email=attempted,
        info=info,
        target_type="user",
        target_label=attempted,
        data=data,
    )


@transaction.atomic
def token_create(
    *, actor: User, name: str, scope: str = TokenScope.READ, info: RequestInfo = SYSTEM
) -> IssuedToken:
    """A new token for ``actor``, if they may have tokens (an external guest only when allowed:
    ``permissions.api_tokens_refusal``); its secret is returned once."""
    refusal = api_tokens_refusal(actor)
    if refusal is not None:
        raise PermissionDenied(refusal, code="tokens_not_allowed")
    name = plain_text(name)[:100]
    if not name:
        raise ApplicationError("Give the token a name, such as the script that will use it.")
    if scope not in TokenScope.values:
        raise ApplicationError("Choose read or write.", code="invalid_scope")
    prefix = TOKEN_PREFIX + secrets.token_hex(4)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=actor, name=name, scope=scope, prefix=prefix, secret_hash=hash_secret(secret)
    )
    audit_record(
        action=Action.TOKEN_CREATED,
        actor=actor,
        info=info,
        target_type="token",
        target_id=prefix,
        target_label=name,
        data={"scope": scope},
    )
    return IssuedToken(token=token, secret=secret)


@transaction.atomic
def guest_api_tokens_allow(*, person: User, info: RequestInfo = SYSTEM) -> bool:
    """An administrator's allowance, given outside the admin site (``commonroom token create
    --allow-guest``): external guest ``person`` may create API tokens even where no workspace of
    theirs allows it. Audited; True when it was not given before."""
    # One conditional update: two at once allow (and audit) once.
    if not User.objects.filter(pk=person.pk, kind=UserKind.GUEST, api_tokens_allowed=False).update(
        api_tokens_allowed=True
    ):
        return False
    person.api_tokens_allowed = True
    audit_record(
        action=Action.GUEST_TOKENS_ALLOWED,
        info=info,
        target_type="user",
        target_id=str(person.pk),
        target_label=person.email,
        data={"api_tokens_allowed": [False, True]},
    )
    return True


@transaction.atomic
def token_revoke(*, actor: User, token_id: Any, info: RequestInfo = SYSTEM) -> ApiToken:
    try:
        pk = int(token_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    token = ApiToken.objects.select_for_update().filter(pk=pk, user=actor).first()
    if token is None:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        # Open live sockets opened with it: live closes them (its receiver).
        hooks.changed(hooks.TokenRevoked(actor=actor, token_id=token.pk))
        audit_record(
            action=Action.TOKEN_REVOKED,
            actor=actor,
            info=info,
            target_type="token",
            target_id=token.prefix,
            target_label=token.name,
        )
    return token


@transaction.atomic
def sessions_end_all(*, actor: User, info: RequestInfo = SYSTEM) -> int:
    """Sign out of every browser session, this one included."""
    sessions = list(UserSession.objects.filter(user=actor))
    for s in sessions:
        s.end()
    # Open live sockets were authenticated by those sessions: live closes them (its receiver).
    hooks.changed(hooks.SignedOutEverywhere(actor=actor, sessions=len(sessions)))
    audit_record(
        action=Action.SESSIONS_ENDED,
        actor=actor,
        info=info,
        target_type="user",
        target_id=str(actor.pk),
        target_label=actor.email,
        data={"sessions": len(sessions)},
    )
    return len(sessions)


@transaction.atomic
def signed_out(*, actor: User, session_key: str | None, info: RequestInfo = SYSTEM) -> None:
    """This browser's session signs out (Django's logout, which ends it): whatever it opened
    (live sockets) is closed by those who follow ``SignedOut``."""
    if session_key:
        hooks.changed(hooks.SignedOut(actor=actor, session_keys=(session_key,)))
    audit_record(
        action=Action.LOGOUT,
        actor=actor,
        info=info,
        target_type="user",
        target_id=str(actor.pk),
        target_label=actor.email,
    )


@transaction.atomic
def sessions_end(
    *, actor: User, sessions: Iterable[UserSession], info: RequestInfo = SYSTEM
) -> int:
    """End the chosen browser sessions of ``actor`` (from the sessions page; anyone else's are
    left alone), and what they opened. Returns how many ended."""
    ended = [s for s in sessions if s.user_id == actor.pk]
    for s in ended:
        s.end()
    if ended:
        keys = tuple(sorted(s.session_key for s in ended))
        hooks.changed(hooks.SignedOut(actor=actor, session_keys=keys))
        audit_record(
            action=Action.SESSIONS_ENDED,
            actor=actor,
            info=info,
            target_type="user",
            target_id=str(actor.pk),
            target_label=actor.email,
            data={"sessions": len(ended)},
        )
    return len(ended)


def second_factor_code_check(*, user: User, code: Any) -> str:
    """A code from ``user``'s authenticator app, checked for a deliberate act made without a
    browser (approving through the API): "totp" when it is right and not used before (a code
    is good once, across every server process: allauth keeps used ones in the shared cache),
    else a sentence."""
    text = "".join(str(code or "").split())
    found = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if found is None:
        raise ApplicationError(
            "Approving needs your second factor: with a passkey only, approve in the browser.",
            code="second_factor_needed",
            status=403,
        )
    if not text.isdigit() or not TOTP(found).validate_code(text):
        raise ApplicationError(
            "That code from your authenticator app is not right, or was used already.",
            code="second_factor_wrong",
            status=403,
        )
    return "totp"
