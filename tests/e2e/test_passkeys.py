"""Passkeys work under the Content-Security-Policy (script-src 'self', no inline script).

allauth's WebAuthn pages run from static script files and read their settings from JSON data
blocks, which the policy allows; these tests prove it in Chromium with a virtual authenticator.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from e2e_support import sign_in
from playwright.sync_api import expect

from commonroom.accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.e2e


def add_virtual_authenticator(page: Any) -> None:
    """A platform authenticator that holds passkeys and says yes, as Chromium's DevTools offer."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def test_passkey_is_added_and_then_signs_in_without_a_password(
    asgi_server: Any, new_page: Any, page_problems: Any
) -> None:
    # Given Priya, signed in with her password, on a device with a passkey authenticator
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    page = new_page("Priya")
    add_virtual_authenticator(page)
    sign_in(page, priya.email, PASSWORD)

    # When she adds a passkey from the second-factor page (not asked for her password again:
    # she gave it a moment ago)
    page.goto("/accounts/2fa/")
    page.get_by_role("link", name="Add").click()
    page.get_by_label(re.compile("^A name for it")).fill("Work laptop")
    expect(page.get_by_label(re.compile("sign in with it alone"))).to_be_checked()
    page.get_by_role("button", name="Use my screen lock").click()

    # Then it is stored, and she is shown her new recovery codes
    expect(page).to_have_url(re.compile(r"/accounts/2fa/recovery-codes/"))
    key = Authenticator.objects.get(user=priya, type=Authenticator.Type.WEBAUTHN)
    assert key.wrap().name == "Work laptop"

    # When she signs out and signs in again with the passkey alone
    page.get_by_role("button", name="Sign out").click()
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with a passkey").click()

    # Then she is in, on her workspaces
    expect(page.get_by_role("heading", level=1)).to_have_text("My workspaces")
    assert not page_problems.seen, "\n".join(page_problems.seen)
