"""The person's own account pages: security (second factor, sessions) and API tokens; and how
another app's page signs someone in (:func:`sign_in`)."""

from __future__ import annotations

from allauth.account.utils import perform_login
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from commonroom.accounts import services
from commonroom.accounts.models import TokenScope, User
from commonroom.accounts.permissions import account_abilities, api_tokens_refusal
from commonroom.accounts.selectors import second_factor_required, tokens_for_user
from commonroom.audit.views import render_trail
from commonroom.core.exceptions import ApplicationError, NotFound
from commonroom.core.views import AuthedRequest, back_with_error, form_value, info


def sign_in(request: AuthedRequest, user: User, *, redirect_url: str) -> HttpResponse:
    """Sign ``user`` in on this browser (they proved who they are some other way: accepting the
    invitation sent to their inbox) and send them to ``redirect_url``. Through allauth's own
    sign-in flow, as every sign-in is, so the session is recorded like any other: listed under
    "Where you are signed in", ended by "Sign out everywhere", its sign-in audited."""
    return perform_login(request, user, redirect_url=redirect_url)


@login_required
def security(request: AuthedRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "accounts/security.html",
        {
            "authenticators": Authenticator.objects.filter(user=user),
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
