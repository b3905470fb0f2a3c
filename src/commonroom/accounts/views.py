"""The person's own account pages: security (second factor, sessions) and API tokens; how
another app's page signs someone in (:func:`sign_in`); and the second factor's own pages:
choosing one (:func:`second_factor`), a code by email set up, asked for at sign-in and to
confirm it is you, and the way back to where the person was going once a factor is set up
(:func:`second_factor_continue`)."""

from __future__ import annotations

from typing import Any

from allauth.account.decorators import reauthentication_required
from allauth.account.internal.flows.login import record_authentication
from allauth.account.internal.flows.reauthentication import resume_request
from allauth.account.internal.stagekit import stash_login
from allauth.account.stages import LoginStageController
from allauth.account.utils import perform_login
from allauth.account.views import login as allauth_sign_in_page
from allauth.core.internal.ratelimit import respond_429
from allauth.mfa.models import Authenticator
from allauth.mfa.stages import AuthenticateStage
from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from commonroom.accounts import services, throttle
from commonroom.accounts.adapters import client_for_limits
from commonroom.accounts.exceptions import EmailCodeRefused
from commonroom.accounts.models import EmailCodePurpose, TokenScope, User
from commonroom.accounts.permissions import account_abilities, api_tokens_refusal
from commonroom.accounts.selectors import (
    EMAIL_CODE,
    SECOND_FACTOR_NEXT,
    email_code_enabled,
    safe_next,
    second_factor_kinds,
    second_factor_next,
    second_factor_required,
    tokens_for_user,
)
from commonroom.accounts.stages import EmailCodeStage
from commonroom.audit.views import render_trail
from commonroom.core.exceptions import ApplicationError, NotFound
from commonroom.core.views import AuthedRequest, back_with_error, form_value, info


def sign_in_page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
    """allauth's sign-in page, the forms sent to it from one address limited by
    ``throttle.address_sign_in_sent`` (``COMMONROOM_SIGNIN_ADDRESS_RATE``) rather than by
    allauth's own "login" rate, which answers 429 when it cannot take a lock in time."""
    if request.method == "POST" and not throttle.address_sign_in_sent(client_for_limits(request)):
        return respond_429(request)
    response: HttpResponseBase = allauth_sign_in_page(request, *args, **kwargs)
    return response


def sign_in(request: AuthedRequest, user: User, *, redirect_url: str) -> HttpResponse:
    """Sign ``user`` in on this browser (they proved who they are some other way: accepting the
    invitation sent to their inbox, with the password they set there) and send them to
    ``redirect_url``. Through allauth's own sign-in flow, as every sign-in is, so the session is
    recorded like any other: listed under "Where you are signed in", ended by "Sign out
    everywhere", its sign-in audited; and recorded as a sign-in with their password, so that
    allauth does not ask for it again minutes later, when they set up their second factor."""
    record_authentication(request, user, method="password", email=user.email)
    return perform_login(request, user, redirect_url=redirect_url)


@login_required
def security(request: AuthedRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "accounts/security.html",
        {
            "authenticators": Authenticator.objects.filter(user=user),
            "email_code": email_code_enabled(user),
            "mfa_required": second_factor_required(user),
            "sessions": UserSession.objects.purge_and_list(user),
            "current_session_key": request.session.session_key,
        },
    )


@login_required
@require_POST
def sign_out_everywhere(request: AuthedRequest) -> HttpResponse:
    count = services.sessions_end_all(actor=request.user, info=info(request))
    logout(request)
    messages.success(request, f"Signed out of {count} session(s), including this one.")
    return redirect("account_login")


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: AuthedRequest) -> HttpResponse:
    issued = None
    if request.method == "POST":
        try:
            issued = services.token_create(
                actor=request.user,
                name=form_value(request, "name"),
                scope=form_value(request, "scope", TokenScope.READ),
                info=info(request),
            )
        except ApplicationError as exc:
            return back_with_error(request, exc, "account_tokens")
    return render(
        request,
        "accounts/tokens.html",
        {
            "tokens": tokens_for_user(user=request.user),
            # Why this person may not create tokens (an external guest not allowed), or None.
            "refusal": api_tokens_refusal(request.user),
            "issued": issued,
            "scopes": TokenScope.choices,
        },
    )


@login_required
@require_POST
def token_revoke(request: AuthedRequest, token_id: int) -> HttpResponse:
    services.token_revoke(actor=request.user, token_id=token_id, info=info(request))
    messages.success(request, "Token revoked: it no longer works.")
    return redirect("account_tokens")


@login_required
def global_audit_trail(request: AuthedRequest) -> HttpResponseBase:
    """The whole audit trail, for those whose account may see it (admins); not found for
    anyone else."""
    if not account_abilities(request.user)["view_global_audit"]:
        raise NotFound()
    return render_trail(
        request, workspace_id=None, context={"workspace": None}, filename="audit.csv"
    )


# --- The second factor: choosing one, and the way back ----------------------------------------


@login_required
@require_http_methods(["GET"])
def second_factor(request: AuthedRequest) -> HttpResponse:
    """Choosing a second factor, phone first: a passkey (this phone's screen lock), a code by
    email, an authenticator app. Where the person was going (``next``) is kept for the way
    back."""
    wanted = safe_next(request, request.GET.get(REDIRECT_FIELD_NAME))
    if wanted:
        request.session[SECOND_FACTOR_NEXT] = wanted
    kinds = second_factor_kinds(request.user)
    return render(
        request,
        "accounts/second_factor.html",
        {
            "kinds": kinds,
            "has_factor": bool(kinds),
            "mfa_required": second_factor_required(request.user),
            "continue_to": second_factor_next(request),
        },
    )


@login_required
@require_http_methods(["GET"])
def second_factor_continue(request: AuthedRequest) -> HttpResponse:
    """On to where the person was going before they set up their second factor (once), or
    their workspaces."""
    to = safe_next(request, request.session.pop(SECOND_FACTOR_NEXT, None))
    return redirect(to or "home")


# --- A code by email: set up, turned off --------------------------------------------------------

SETUP_KEY = "email_code_setup"


@login_required
@never_cache
@reauthentication_required(app="allauth.mfa")
@require_http_methods(["GET", "POST"])
def email_code_setup(request: AuthedRequest) -> HttpResponse:
    """Setting up a code by email: a code is sent (so it is known our emails reach them), the
    person types it, and from then on each sign-in asks for a new one."""
    user = request.user
    error: ApplicationError | None = None
    if request.method == "POST":
        try:
            if form_value(request, "action") == "send":
                sent = services.email_code_send(
                    user=user, purpose=EmailCodePurpose.SET_UP, info=info(request)
                )
                request.session[SETUP_KEY] = sent.id
                return redirect("account_email_code_setup")
            services.email_code_factor_add(
                actor=user,
                code_id=request.session.get(SETUP_KEY),
                code=form_value(request, "code"),
                info=info(request),
            )
        except ApplicationError as exc:
            error = exc
        else:
            request.session.pop(SETUP_KEY, None)
            messages.success(
                request, f"Done: each time you sign in, we will email a code to {user.email}."
            )
            return redirect("account_second_factor_continue")
    return render(
        request,
        "accounts/email_code_setup.html",
        {
            "enabled": email_code_enabled(user),
            "sent": bool(request.session.get(SETUP_KEY)),
            "error": error,
            "fresh_needed": isinstance(error, EmailCodeRefused) and error.fresh_needed,
            "minutes": services.EMAIL_CODE_MINUTES,
            "continue_to": second_factor_next(request),
        },
        status=error.status if error else 200,
    )


@login_required
@reauthentication_required(app="allauth.mfa")
@require_POST
def email_code_remove(request: AuthedRequest) -> HttpResponse:
    if services.email_code_factor_remove(actor=request.user, info=info(request)):
        messages.success(request, "We will no longer email you a code when you sign in.")
    return redirect("account_security")


# --- A code by email: at sign-in, and to confirm it is you -------------------------------------


def _code_page(
    request: HttpRequest, template: str, context: dict[str, Any], error: ApplicationError | None
) -> HttpResponse:
    return render(
        request,
        template,
        {
            **context,
            "error": error,
            "fresh_needed": isinstance(error, EmailCodeRefused) and error.fresh_needed,
            "minutes": services.EMAIL_CODE_MINUTES,
        },
        status=error.status if error else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def email_code(request: HttpRequest) -> HttpResponse:
    """The sign-in's stage that asks for the code just emailed (``stages.EmailCodeStage``):
    only while a sign-in is at that stage (its password given); a new code on request."""
    stage = LoginStageController.enter(request, EmailCodeStage.key)
    if stage is None or stage.login.user is None:
        return redirect("account_login")
    user = stage.login.user
    error: ApplicationError | None = None
    if request.method == "POST":
        try:
            if form_value(request, "action") == "send":
                sent = services.email_code_send(
                    user=user, purpose=EmailCodePurpose.SIGN_IN, info=info(request)
                )
                stage.state["code_id"] = sent.id
                stash_login(request, stage.login)
                messages.info(request, f"We sent a new code to {user.email}.")
                return redirect("account_email_code")
            services.email_code_check(
                user=user,
                code_id=stage.state.get("code_id"),
                code=form_value(request, "code"),
                purpose=EmailCodePurpose.SIGN_IN,
                info=info(request),
            )
        except ApplicationError as exc:
            error = exc
        else:
            record_authentication(request, user, method="mfa", type=EMAIL_CODE)
            return stage.exit()
    return _code_page(request, "accounts/email_code.html", {"email": user.email}, error)


@require_POST
def email_code_instead(request: HttpRequest) -> HttpResponse:
    """ "Email me a code instead", from allauth's page asking for an authenticator app's code or
    a passkey: allauth's stage ends unanswered and ours, marked as chosen, asks instead (see
    ``stages``). Only for a sign-in at allauth's stage, of a person with a code by email."""
    stage = LoginStageController.enter(request, AuthenticateStage.key)
    if stage is None or stage.login.user is None or not email_code_enabled(stage.login.user):
        return redirect("account_login")
    EmailCodeStage(stage.controller, request, stage.login).state["instead"] = True
    return stage.exit()


CONFIRM_KEY = "email_code_confirm"


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def email_code_confirm(request: AuthedRequest) -> HttpResponse:
    """Confirming it is you with a code by email: allauth's "confirm it's you" for a person whose
    second factor is a code by email (before changing their second factors, or approving a
    version). Recorded as allauth records a confirmation with another second factor, then on to
    what asked for it (allauth's suspended request, or ``next``)."""
    user = request.user
    if not email_code_enabled(user):
        return redirect("account_security")
    error: ApplicationError | None = None
    if request.method == "POST":
        try:
            if form_value(request, "action") == "send":
                sent = services.email_code_send(
                    user=user, purpose=EmailCodePurpose.CONFIRM, info=info(request)
                )
                request.session[CONFIRM_KEY] = sent.id
                return redirect(request.get_full_path())
            services.email_code_check(
                user=user,
                code_id=request.session.get(CONFIRM_KEY),
                code=form_value(request, "code"),
                purpose=EmailCodePurpose.CONFIRM,
                info=info(request),
            )
        except ApplicationError as exc:
            error = exc
        else:
            request.session.pop(CONFIRM_KEY, None)
            record_authentication(
                request, user, method="mfa", type=EMAIL_CODE, reauthenticated=True
            )
            resumed = resume_request(request)
            if resumed is not None:
                return resumed
            return redirect(safe_next(request, request.GET.get(REDIRECT_FIELD_NAME)) or "home")
    return _code_page(
        request,
        "accounts/email_code_confirm.html",
        {"email": user.email, "sent": bool(request.session.get(CONFIRM_KEY))},
        error,
    )
