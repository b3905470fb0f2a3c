"""The sign-in stage that asks for a code sent by email, after the password.

allauth runs a sign-in as a list of stages (its adapter's ``get_login_stages``); ours,
:class:`EmailCodeStage`, comes right after allauth.mfa's ``AuthenticateStage`` (which asks for
an authenticator app's code or a passkey). One of the two asks, never both:

- a person whose only second factor is a code by email: allauth's stage passes them on, ours
  emails a code and sends them to ``account_email_code``;
- a person with an authenticator app or a passkey as well: allauth's stage asks, and ours then
  passes, unless they chose "Email me a code instead" on allauth's page
  (``views.email_code_instead``), which ends allauth's stage unanswered and marks ours as
  chosen: ours must then ask (and ends the sign-in if the code by email is gone meanwhile);
- a sign-in with a passkey alone (passwordless) has had its second factor, and so has one
  through an identity provider that says it did one (single sign-on: ``sso``): neither asks.
"""

from __future__ import annotations

from typing import Any

from allauth.account.stages import LoginStage
from allauth.mfa.stages import AuthenticateStage
from allauth.mfa.webauthn.internal.flows import did_use_passwordless_login
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from commonroom.accounts.models import EmailCodePurpose
from commonroom.accounts.selectors import email_code_enabled, sso_second_factor
from commonroom.accounts.services import email_code_send
from commonroom.accounts.sso import REQUEST_ATTR as SSO_REQUEST_ATTR
from commonroom.core.exceptions import ApplicationError
from commonroom.core.request_info import RequestInfo


class EmailCodeStage(LoginStage):
    key = "commonroom_email_code"
    urlname = "account_email_code"

    def handle(self) -> tuple[HttpResponse | None, bool]:
        user = self.login.user
        chosen = bool(self.state.get("instead"))
        if user is None or not email_code_enabled(user):
            if chosen:  # allauth's stage was ended for this one: without it, no way in
                return HttpResponseRedirect(reverse("account_login")), False
            return None, True
        if not chosen:
            if did_use_passwordless_login(self.request, user):
                return None, True
            sso = getattr(self.request, SSO_REQUEST_ATTR, None)
            if sso and sso_second_factor(sso.get("claims", {})):
                return None, True
            asked = self.controller.get_stage(AuthenticateStage.key)
            if asked is not None and asked.state.get("authentication_required"):
                return None, True
        return self.send()

    def send(self) -> tuple[HttpResponse | None, bool]:
        """A new code emailed, its id kept in this sign-in's state; the person sent to type it.
        When no code can be sent (too many this hour, the mail server down), the sign-in ends
        with the sentence that says so."""
        user = self.login.user
        if user is None:
            return HttpResponseRedirect(reverse("account_login")), False
        try:
            sent = email_code_send(
                user=user,
                purpose=EmailCodePurpose.SIGN_IN,
                info=RequestInfo.from_request(self.request),
            )
        except ApplicationError as exc:
            context: dict[str, Any] = {"error": exc, "title": "We could not send you a code"}
            return render(self.request, "error.html", context, status=exc.status), False
        self.state["code_id"] = sent.id
        return HttpResponseRedirect(reverse(self.urlname)), True
