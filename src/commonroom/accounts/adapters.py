"""How allauth behaves here: no open sign-up (people arrive by invitation or are created by an
administrator); the client's address is the one ``core.request_info`` decides (trusted proxies
only), for the rate limits, the sessions page and the trail alike; failed sign-ins are limited
per client and per account at that client, whatever address the request was sent to, and one
account's attempts from everywhere are slowed (``throttle.py``), never locked; a sign-in turned
away is audited like any failed sign-in, and told the ways in that are never turned away.

Failures of the password itself are audited by :mod:`commonroom.accounts.receivers` (Django's
``user_login_failed`` signal); an attempt refused by the rate limit never reaches the password
check, so it is recorded here: once per address, account, reason and minute, so that a flood
of refused attempts cannot flood the audit trail (each row takes the chain's lock).

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
import time
from typing import Any, NoReturn

from allauth import app_settings as allauth_settings
from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.core import context
from allauth.core.internal import ratelimit as _ratelimit
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.urls import reverse

from commonroom.accounts import throttle
from commonroom.accounts.hashers import HashingBusy
from commonroom.accounts.selectors import (
    SSO_SESSION_KEY,
    email_code_enabled,
    proved_identity_recently,
)
from commonroom.accounts.services import attempted_email, sessions_end, sign_in_failure_record
from commonroom.accounts.sso import end_session_url
from commonroom.core.request_info import RequestInfo, client_ip, client_network

TOO_MANY_FROM_HERE = "Too many failed sign-ins from here. Try again in a few minutes."
TOO_MANY_AT_ONCE = (
    "Many people are signing in from this address at this moment. Try again in a few seconds."
)
TOO_MANY_FROM_EVERYWHERE = (
    "This account has had many failed sign-ins from several places, so each try now waits its "
    "turn. Try again in {seconds}."
)


def _other_ways_in() -> str:
    """The ways in that no password throttle ever turns away."""
    sso = (
        f"choose “{settings.COMMONROOM_OIDC_LABEL}” if you are staff, "
        if settings.COMMONROOM_OIDC_ISSUER
        else ""
    )
    return (
        f"You can still get in another way: {sso}sign in with a passkey if you added one, or "
        "choose “Forgotten your password?” to get a link by email that lets you set a new one."
    )


def _seconds(n: int) -> str:
    if n < 90:
        return f"{n} second{'s' if n != 1 else ''}"
    minutes = round(n / 60)
    return f"{minutes} minutes"


_APP = "allauth.account"


def _login_failed_rates() -> tuple[dict[str, str], dict[str, str]]:
    """allauth's ``login_failed`` rates split in two configurations: those per client address
    (``ip``), and the rest (``key``: one account at one client)."""
    rates = [r.strip() for r in (account_settings.RATE_LIMITS.get("login_failed") or "").split(",")]
    address = [r for r in rates if r.endswith("/ip")]
    other = [r for r in rates if r and not r.endswith("/ip")]
    return {"login_failed": ",".join(address)}, {"login_failed": ",".join(other)}


def _address_failures_full(request: HttpRequest, address_rates: dict[str, str]) -> bool:
    """Whether the address has had its fill of failed sign-ins, read without allauth's lock:
    its ``consume(dry_run=True)`` takes the counter's lock in the cache and answers "full"
    when it cannot have it within a second, so a crowd signing in from one address would be
    refused for contending with itself. A read needs no lock; failures are still added under
    it (:meth:`AccountAdapter.authentication_failed`)."""
    now = time.time()
    for rate in _ratelimit.get_rates(app=_APP, action="login_failed", config=address_rates):
        counter = _ratelimit.get_cache_key(request, app=_APP, action="login_failed", rate=rate)
        allowed, _ = _ratelimit.apply_rate(list(cache.get(counter, [])), now, rate, dry_run=True)
        if not allowed:
            return True
    return False


class SecondFactorLimit:
    """The failed-attempt limits on a second factor (a code, or a passkey after the password),
    counted as the password's are. allauth.mfa's own check (``check_rate_limit``) reserves one
    of the client address's failed sign-ins (``ip`` rates) for every code tried and, on a
    correct code, clears the address's count altogether: anyone holding one account's password
    and second factor could wipe their address's failures between guesses at other accounts'
    passwords, and a crowd entering codes together from one NAT address counted against itself.
    Here the address's count is read without a lock (refused when full), added to only when
    the code proves wrong, and never cleared; the person's own count (``key`` rates, under
    allauth's key ``mfa-auth-user-<id>``, from everywhere) is reserved and cleared on success as
    allauth does. The forms that use it are in ``accounts.forms`` (``MFA_FORMS``)."""

    def __init__(self, user: AbstractBaseUser, error_key: str = "too_many_login_attempts") -> None:
        request = context.request
        self.request = request
        self.key = f"mfa-auth-user-{user.pk}"
        self.address_rates, self.own_rates = _login_failed_rates()
        if _address_failures_full(request, self.address_rates) or not _ratelimit.consume(
            request, app=_APP, action="login_failed", config=self.own_rates, key=self.key
        ):
            raise get_account_adapter(request).validation_error(error_key)

    def failed(self) -> None:
        """The code or passkey was wrong: it counts against the address too."""
        _ratelimit.consume(self.request, app=_APP, action="login_failed", config=self.address_rates)

    def succeeded(self) -> None:
        """The person's own count starts again; the address's is left as it is."""
        _ratelimit.clear(
            self.request, app=_APP, action="login_failed", config=self.own_rates, key=self.key
        )


def client_for_limits(request: HttpRequest) -> str:
    """The client as allauth counts it for ``ip`` rates: an IPv6 address by its network
    (``ALLAUTH_RATE_LIMIT_IPV6_PREFIX``, /64), which one subscriber holds whole."""
    ip = client_ip(request)
    if not ip:
        raise PermissionDenied("Unable to determine client IP address")
    return client_network(ip, ipv6_prefix=allauth_settings.RATE_LIMIT_IPV6_PREFIX)


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

    def get_client_ip(self, request: HttpRequest) -> str:
        """allauth's rate limits (``ip`` and our ``key``), its sessions page and its emails
        use the address the trail records: X-Forwarded-For only from trusted proxies."""
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def _client_for_limits(self, request: HttpRequest) -> str:
        return client_for_limits(request)

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        """allauth's ``key`` for failed sign-ins: the account at this client. Per account alone,
        five wrong passwords from anywhere would lock the owner out; per client alone, a
        guesser could try every account. The account is its address alone: allauth adds the
        site's domain, which without ``django.contrib.sites`` is the request's Host header with
        its port: any port passes ``ALLOWED_HOSTS``, so a guesser could start a fresh count by
        changing it, and two servers of one installation reached at different addresses would
        each keep their own count. One installation is one site."""
        account = attempted_email(credentials).lower()
        return f"{account}|{self._client_for_limits(request)}"

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """allauth's checks before the password is looked at, with one change: the address's
        failed sign-ins (``ip`` rates) are checked here but counted only when the password
        proves wrong (:meth:`authentication_failed`). allauth reserves one as each sign-in
        starts, so the sixth of a trust's staff signing in together behind one NAT address
        was refused as "too many failed sign-ins". What allauth's reservation also did, stop
        a guesser's attempts sent at once from all being tried, is done by a bound on the
        sign-ins in progress from one address (``throttle.address_enter``). The account's
        own failures at this client (``key`` rates) are reserved as allauth does: one person
        has one sign-in in progress."""
        self._account_attempt: throttle.Attempt | None = None
        self._address_in_flight: str | None = None
        self._login_failed_rl_usage: Any = None
        key = self._get_login_attempts_cache_key(request, **credentials)
        address_rates, other_rates = _login_failed_rates()
        if _address_failures_full(request, address_rates):
            self._refuse_too_many(request, credentials)
        in_flight = throttle.address_enter(self._client_for_limits(request))
        if in_flight is None:
            self._refusal_record(request, credentials, "address_busy")
            raise ValidationError(TOO_MANY_AT_ONCE, code="too_many_login_attempts")
        self._address_in_flight = in_flight
        try:
            self._login_failed_rl_usage = _ratelimit.consume(
                request, app=_APP, action="login_failed", config=other_rates, key=key
            )
            if not self._login_failed_rl_usage:
                self._refuse_too_many(request, credentials)
            started = throttle.attempt_start(attempted_email(credentials).lower())
            if isinstance(started, throttle.Wait):
                # The password is not looked at: this attempt counts against nothing.
                self._rollback_login_failed_rl_usage()
                self._refusal_record(request, credentials, "account_slowed")
                raise ValidationError(
                    TOO_MANY_FROM_EVERYWHERE.format(seconds=_seconds(started.seconds))
                    + f" {_other_ways_in()}",
                    code="too_many_login_attempts",
                )
        except BaseException:
            self._address_leave()
            raise
        self._account_attempt = started

    def _refuse_too_many(self, request: HttpRequest, credentials: dict[str, Any]) -> NoReturn:
        self._refusal_record(request, credentials, "rate_limited")
        raise ValidationError(
            f"{TOO_MANY_FROM_HERE} {_other_ways_in()}", code="too_many_login_attempts"
        )

    def _address_leave(self) -> None:
        in_flight = getattr(self, "_address_in_flight", None)
        if in_flight is not None:
            self._address_in_flight = None
            throttle.address_leave(in_flight)

    def authenticate(self, request: HttpRequest, **credentials: Any) -> AbstractBaseUser | None:
        try:
            user = super().authenticate(request, **credentials)
        except HashingBusy:
            # The password was never looked at: the attempt counts against nothing.
            self._rollback_login_failed_rl_usage()
            if (attempt := getattr(self, "_account_attempt", None)) is not None:
                throttle.attempt_succeeded(attempt)
            raise
        finally:
            self._address_leave()
        attempt = getattr(self, "_account_attempt", None)
        if user is not None and attempt is not None:
            throttle.attempt_succeeded(attempt)
        return user

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        """The password was wrong: now it counts against the address."""
        address_rates, _ = _login_failed_rates()
        _ratelimit.consume(request, app=_APP, action="login_failed", config=address_rates)

    def _delete_login_attempts_cached_email(self, request: HttpRequest, **credentials: Any) -> None:
        """After a password reset: this client's count for the account (allauth's), and the
        account's from everywhere."""
        super()._delete_login_attempts_cached_email(request, **credentials)
        throttle.account_forget(attempted_email(credentials).lower())

    def _refusal_record(
        self, request: HttpRequest, credentials: dict[str, Any], reason: str
    ) -> None:
        info = RequestInfo.from_request(request)
        attempted = attempted_email(credentials).lower()
        seen = hashlib.sha256(f"{info.ip}|{attempted}|{reason}".encode()).hexdigest()
        if cache.add(f"audit-rate-limited:{seen}", True, timeout=60):
            sign_in_failure_record(credentials=credentials, info=info, data={"reason": reason})


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    def end_sessions(self, sessions: Any) -> None:
        request = context.request
        user = getattr(request, "user", None)
        if request is None or user is None or not user.is_authenticated:
            return
        sessions_end(actor=user, sessions=list(sessions), info=RequestInfo.from_request(request))
