"""allauth's forms, through ``MFA_FORMS``: adding a passkey in plain words; and every form that
checks a second factor (a code at sign-in or to confirm it is you, the first code of a new
authenticator app, a passkey after the password) limited by ``adapters.SecondFactorLimit``
rather than allauth.mfa's own check, which clears the client address's failed sign-ins on every
correct code."""

from __future__ import annotations

from typing import Any

from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.base.forms import AuthenticateForm, BaseAuthenticateForm, ReauthenticateForm
from allauth.mfa.internal.flows.add import validate_can_add_authenticator
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.forms import ActivateTOTPForm
from allauth.mfa.totp.internal import auth as totp_auth
from allauth.mfa.webauthn.forms import (
    AddWebAuthnForm,
    AuthenticateWebAuthnForm,
    ReauthenticateWebAuthnForm,
)
from allauth.mfa.webauthn.internal import auth as webauthn_auth
from django.core.exceptions import ValidationError

from commonroom.accounts.adapters import SecondFactorLimit


class AddPasskeyForm(AddWebAuthnForm):
    """allauth's form for adding a passkey, with labels a person on their phone understands and
    "sign in with it alone" ticked at first (a passkey on a phone checks the fingerprint, face or
    PIN, which is what signing in without the password needs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # allauth suggests "Master key": a person would rather read what it is.
        count = Authenticator.objects.filter(
            user_id=self.user.pk, type=Authenticator.Type.WEBAUTHN
        ).count()
        self.initial["name"] = "Passkey" if count == 0 else f"Passkey {count + 1}"
        self.fields["name"].label = "A name for it, so you can tell it apart later"
        passwordless = self.fields.get("passwordless")
        if passwordless is not None:
            passwordless.label = "Also let me sign in with it alone, without my password"
            passwordless.help_text = ""
            passwordless.initial = True


def _code_checked(form: BaseAuthenticateForm) -> str:
    """``form``'s code, if one of its person's authenticators (an app's code or a recovery
    code; a passkey takes no typed code) accepts it. As allauth.mfa checks it, limits apart:
    a failure is reported to the first authenticator, the app's if there is one."""
    limit = SecondFactorLimit(form.user)
    code = form.cleaned_data["code"]
    reported: Authenticator | None = None
    for authenticator in Authenticator.objects.filter(user=form.user).exclude(
        type=Authenticator.Type.WEBAUTHN
    ):
        if reported is None or authenticator.type == Authenticator.Type.TOTP:
            reported = authenticator
        if authenticator.wrap().validate_code(code):
            authenticator.user = form.user
            form.authenticator = authenticator
            limit.succeeded()
            return str(code)
    limit.failed()
    if reported is not None:
        form._emit_authentication_failed(reported)
    raise get_mfa_adapter().validation_error("incorrect_code")


class SignInCodeForm(AuthenticateForm):
    """The code asked for after the password (``MFA_FORMS["authenticate"]``)."""

    def clean_code(self) -> str:
        return _code_checked(self)


class ConfirmCodeForm(ReauthenticateForm):
    """A code asked for to confirm it is you (``MFA_FORMS["reauthenticate"]``)."""

    def clean_code(self) -> str:
        return _code_checked(self)


class FirstAppCodeForm(ActivateTOTPForm):
    """The first code of a new authenticator app (``MFA_FORMS["activate_totp"]``)."""

    def clean_code(self) -> str:
        validate_can_add_authenticator(self.user)
        limit = SecondFactorLimit(self.user, error_key="rate_limited")
        code = self.cleaned_data["code"]
        if not totp_auth.validate_totp_code(self.secret, code):
            limit.failed()
            raise get_mfa_adapter().validation_error("incorrect_code")
        limit.succeeded()
        return str(code)


def _passkey_checked(form: AuthenticateWebAuthnForm) -> Authenticator:
    """``form``'s passkey answer, if it is one of its person's passkeys. A passkey used alone
    to sign in names its own person, so an attacker could name anyone: it is never limited
    (as in allauth.mfa), lest they lock that person out."""
    credential = form.cleaned_data["credential"]
    response = webauthn_auth.parse_authentication_response(credential)
    user = form.user
    limit = None
    if user is None:
        user = webauthn_auth.extract_user_from_response(credential)
    else:
        limit = SecondFactorLimit(user)
    try:
        authenticator = webauthn_auth.complete_authentication(user, credential)
        if form.passwordless and not response.response.authenticator_data.is_user_verified():
            raise get_mfa_adapter().validation_error("incorrect_code")
    except ValidationError:
        if limit is not None:
            limit.failed()
        raise
    if limit is not None:
        limit.succeeded()
    return authenticator


class SignInPasskeyForm(AuthenticateWebAuthnForm):
    """A passkey after the password (``MFA_FORMS["authenticate_webauthn"]``)."""

    def clean_credential(self) -> Authenticator:
        return _passkey_checked(self)


class ConfirmPasskeyForm(ReauthenticateWebAuthnForm):
    """A passkey to confirm it is you (``MFA_FORMS["reauthenticate_webauthn"]``)."""

    def clean_credential(self) -> Authenticator:
        return _passkey_checked(self)
