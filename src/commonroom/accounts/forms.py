"""allauth's forms in plain words: adding a passkey (``MFA_FORMS["add_webauthn"]``)."""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.webauthn.forms import AddWebAuthnForm


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
