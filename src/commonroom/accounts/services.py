"""Writes to accounts: API tokens, signing out (one session, some, or everywhere), and the
second factor that is a code sent by email (codes sent and checked; the factor added and
removed)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from allauth.usersessions.models import UserSession
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from commonroom.accounts import hooks
from commonroom.accounts.exceptions import EmailCodeRefused
from commonroom.accounts.models import (
    ApiToken,
    EmailCode,
    EmailCodeFactor,
    EmailCodePurpose,
    TokenScope,
    User,
    UserKind,
)
from commonroom.accounts.permissions import api_tokens_refusal
from commonroom.accounts.selectors import EMAIL_CODE, TOKEN_PREFIX, hash_secret
from commonroom.audit.actions import Action
from commonroom.audit.services import audit_record
from commonroom.core.exceptions import ApplicationError, NotFound, PermissionDenied
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.text import plain_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once, never stored


def attempted_email(credentials: dict[str, Any]) -> str:
    """The address someone tried to sign in as, from allauth's or Django's credentials."""
    return str(credentials.get("email") or credentials.get("username") or "")[:254]


def own_account_record(
    action: str, person: User, info: RequestInfo, data: dict[str, Any] | None = None
) -> None:
    """Audit something done to or by a person's own account (signing in and out, second
    factors, sessions): they are its actor and its target."""
    audit_record(
        action=action,
        actor=person,
        info=info,
        target_type="user",
        target_id=str(person.pk),
        target_label=person.email,
        data=data,
    )


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
    own_account_record(Action.SESSIONS_ENDED, actor, info, {"sessions": len(sessions)})
    return len(sessions)


@transaction.atomic
def signed_out(*, actor: User, session_key: str | None, info: RequestInfo = SYSTEM) -> None:
    """This browser's session signs out (Django's logout, which ends it): whatever it opened
    (live sockets) is closed by those who follow ``SignedOut``."""
    if session_key:
        hooks.changed(hooks.SignedOut(actor=actor, session_keys=(session_key,)))
    own_account_record(Action.LOGOUT, actor, info)


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
        own_account_record(Action.SESSIONS_ENDED, actor, info, {"sessions": len(ended)})
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
            "Approving needs your second factor: with a passkey or a code by email, approve "
            "in the browser.",
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


# --- A code by email as a second factor -------------------------------------------------------

EMAIL_CODE_MINUTES = 10  # how long a code works
EMAIL_CODE_ATTEMPTS = 5  # tries at one code, right or wrong
EMAIL_CODES_PER_HOUR = 5  # codes sent to one person in an hour, whatever for
_HMAC_SALT = "commonroom.accounts.email-code"


@dataclass(frozen=True)
class SentCode:
    """A code just sent: its row's id (kept by the page that asks for it, in the session) and
    where it went. The code itself is only in the email."""

    id: int
    email: str
    expires_at: datetime


def _code_hash(code: str, *, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    digest = salted_hmac(_HMAC_SALT, f"{salt}:{code}", algorithm="sha256").hexdigest()
    return f"{salt}${digest}"


def _code_matches(code: str, stored: str) -> bool:
    salt, _, _digest = stored.partition("$")
    return bool(salt) and constant_time_compare(_code_hash(code, salt=salt), stored)


def email_code_send(*, user: User, purpose: str, info: RequestInfo = SYSTEM) -> SentCode:
    """Email ``user`` a new six-digit code for ``purpose`` (an :class:`EmailCodePurpose`),
    good once for ``EMAIL_CODE_MINUTES`` minutes; only its keyed hash is kept. At most
    ``EMAIL_CODES_PER_HOUR`` codes an hour are sent to one person (429 past that), so that
    someone who knows the password cannot flood their inbox nor try codes without end. An
    email that cannot be sent voids its code and says so (503)."""
    if purpose not in EmailCodePurpose.values:
        raise ValueError(purpose)
    now = timezone.now()
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        EmailCode.objects.filter(user=user, created_at__lt=now - timedelta(days=1)).delete()
        recent = EmailCode.objects.filter(user=user, created_at__gte=now - timedelta(hours=1))
        if recent.count() >= EMAIL_CODES_PER_HOUR:
            raise ApplicationError(
                f"We have sent you {EMAIL_CODES_PER_HOUR} codes in the last hour, which is as "
                "many as we send. Use the newest one if it is less than "
                f"{EMAIL_CODE_MINUTES} minutes old, or try again in an hour.",
                code="email_codes_limited",
                status=429,
            )
        row = EmailCode.objects.create(
            user=user,
            purpose=purpose,
            code_hash=_code_hash(code),
            created_at=now,
            expires_at=now + timedelta(minutes=EMAIL_CODE_MINUTES),
        )
    context = {
        "code": code,
        "purpose": purpose,
        "minutes": EMAIL_CODE_MINUTES,
        "user": user,
        "ip": info.ip,
    }
    try:
        send_mail(
            subject=f"{code} is your Commonroom code",
            message=render_to_string("accounts/email/code.txt", context),
            from_email=None,
            recipient_list=[user.email],
        )
    except Exception:
        log.exception("could not send a code by email to %s", user.email)
        EmailCode.objects.filter(pk=row.pk).update(used_at=timezone.now())
        raise ApplicationError(
            "We could not send the email just now. Try again in a minute.",
            code="email_not_sent",
            status=503,
        ) from None
    return SentCode(id=row.pk, email=user.email, expires_at=row.expires_at)


def email_code_check(
    *,
    user: User,
    code_id: int | None,
    code: Any,
    purpose: str,
    info: RequestInfo = SYSTEM,
) -> None:
    """Let ``user`` through with the code they typed for the code ``code_id`` sent to them for
    ``purpose``, or raise :class:`EmailCodeRefused` saying why. Each try counts, and the code is
    marked used, by a conditional UPDATE (a compare-and-set in the database), so every server
    process keeps one count and a right code works once however many tries race. A wrong code
    at sign-in (or at "confirm it's you") is audited as a failed sign-in, as allauth's factors'
    are."""
    typed = "".join(str(code or "").split())
    if not typed:
        raise EmailCodeRefused("Type the six digits of the code we emailed you.")
    now = timezone.now()
    mine = EmailCode.objects.filter(pk=code_id or 0, user=user, purpose=purpose)
    counted = mine.filter(
        used_at__isnull=True, expires_at__gt=now, attempts__lt=EMAIL_CODE_ATTEMPTS
    ).update(attempts=F("attempts") + 1)
    row = mine.first()
    if row is None:
        raise EmailCodeRefused(
            "That code is not one we sent you for this. Ask for a new code.", code="code_expired"
        )
    if not counted:
        if row.used_at is not None:
            raise EmailCodeRefused(
                "That code was used already: each code works once. Ask for a new code.",
                code="code_used",
            )
        if row.expires_at <= now:
            raise EmailCodeRefused(
                f"That code is more than {EMAIL_CODE_MINUTES} minutes old. Ask for a new code.",
                code="code_expired",
            )
        raise EmailCodeRefused(
            "That code was tried too many times. Ask for a new code.", code="code_attempts"
        )
    if not typed.isdigit() or len(typed) != 6 or not _code_matches(typed, row.code_hash):
        _email_code_failure_record(user=user, purpose=purpose, info=info)
        left = EMAIL_CODE_ATTEMPTS - row.attempts
        if left <= 0:
            raise EmailCodeRefused(
                "That code is not right, and it was tried too many times. Ask for a new code.",
                code="code_attempts",
            )
        raise EmailCodeRefused(
            "That code is not right. Check the newest email from Commonroom and type its six "
            f"digits ({left} {'try' if left == 1 else 'tries'} left).",
            code="code_wrong",
        )
    if not mine.filter(used_at__isnull=True).update(used_at=timezone.now()):
        raise EmailCodeRefused(
            "That code was used already: each code works once. Ask for a new code.",
            code="code_used",
        )
    if purpose != EmailCodePurpose.SET_UP:
        EmailCodeFactor.objects.filter(user=user).update(last_used_at=timezone.now())


def _email_code_failure_record(*, user: User, purpose: str, info: RequestInfo) -> None:
    if purpose == EmailCodePurpose.SET_UP:
        return  # not a sign-in: the person is signed in and proving they get our emails
    data: dict[str, Any] = {"reason": "second_factor", "type": EMAIL_CODE}
    if purpose == EmailCodePurpose.CONFIRM:
        data["reauthentication"] = True
    own_account_record(Action.LOGIN_FAILED, user, info, data)


def email_code_factor_add(
    *, actor: User, code_id: int | None, code: Any, info: RequestInfo = SYSTEM
) -> EmailCodeFactor:
    """Make a code by email ``actor``'s second factor, once they typed the code sent to them to
    set it up (so it is known they get our emails). Audited as allauth's factors are. (The
    check commits its count of tries before the factor's own transaction: a wrong code is
    counted even though it is refused.)"""
    email_code_check(
        user=actor, code_id=code_id, code=code, purpose=EmailCodePurpose.SET_UP, info=info
    )
    with transaction.atomic():
        factor, created = EmailCodeFactor.objects.get_or_create(user=actor)
        if created:
            _factor_change_record(actor=actor, added=True, info=info)
    return factor


@transaction.atomic
def email_code_factor_remove(*, actor: User, info: RequestInfo = SYSTEM) -> bool:
    """Stop asking ``actor`` for a code by email at sign-in. Whether there was one to stop."""
    deleted, _ = EmailCodeFactor.objects.filter(user=actor).delete()
    if deleted:
        _factor_change_record(actor=actor, added=False, info=info)
    return bool(deleted)


def _factor_change_record(*, actor: User, added: bool, info: RequestInfo) -> None:
    own_account_record(Action.MFA_CHANGED, actor, info, {"type": EMAIL_CODE, "added": added})
