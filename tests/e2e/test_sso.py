"""Single sign-on in Chromium against a real OpenID provider on loopback (tests/oidc: panva's
certified oidc-provider): a first-time account, a returning colleague on a phone, a refused
domain, a forged ID token, the provider down, and signing out at the provider too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from commonroom.accounts.models import User, UserKind
from commonroom.accounts.tests.factories import UserFactory
from commonroom.accounts.tests.oidc_provider import (
    PASSWORD,
    OidcProvider,
    configure,
    running_provider,
    wait_gone,
)
from commonroom.workspaces.tests.factories import add_member, make_workspace

pytestmark = pytest.mark.e2e
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def provider(asgi_server: Any, settings: Any) -> Iterator[OidcProvider]:
    with running_provider(
        [f"{asgi_server.url}/accounts/oidc/sso/login/callback/"],
        [f"{asgi_server.url}/accounts/login/"],
    ) as running:
        configure(settings, running)
        yield running


def at_provider(page: Any, email: str, *, mfa: bool = True) -> None:
    """The person on the provider's own sign-in page (standing in for NHSmail's)."""
    expect(page.get_by_role("heading", name="NHSmail sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    if mfa:
        page.get_by_label("I confirmed with my authenticator app").check()
    page.get_by_role("button", name="Sign in").click()


def test_a_first_sign_in_makes_a_staff_account_and_signing_out_ends_both(
    new_page: Any, provider: OidcProvider, page_problems: Any, asgi_server: Any
) -> None:
    page = new_page("Nia")
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with NHSmail").click()
    page.wait_for_url(re.compile(rf"^{re.escape(provider.issuer)}/"))
    at_provider(page, "newcomer@nhs.net")
    page.wait_for_url(f"{asgi_server.url}/")
    expect(page.get_by_text("Nia Newcomer").first).to_be_visible()
    made = User.objects.get(email="newcomer@nhs.net")
    assert made.kind == UserKind.STAFF

    # Signing out here signs out at the provider too, and comes back to our sign-in page.
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_url(f"{asgi_server.url}/accounts/login/")
    # The provider's session ended: signing in again asks for the password there.
    page.get_by_role("button", name="Sign in with NHSmail").click()
    expect(page.get_by_role("heading", name="NHSmail sign in")).to_be_visible()
    assert page_problems.seen == []


def test_a_colleague_on_a_phone_signs_in_to_where_they_were_going(
    new_page: Any, provider: OidcProvider, page_problems: Any, asgi_server: Any
) -> None:
    tom = UserFactory.create(email="tom.baker@nhs.net", full_name="Tom Baker")
    manager = UserFactory.create(email="priya@example.org")
    workspace = make_workspace(manager=manager, name="Finance committee")
    add_member(workspace, tom, "editor")
    page = new_page("Tom", viewport=PHONE)
    page.goto(f"/w/{workspace.pk}/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.get_by_role("button", name="Sign in with NHSmail").click()
    at_provider(page, "tom.baker@nhs.net")
    page.wait_for_url(f"{asgi_server.url}/w/{workspace.pk}/")
    expect(page.get_by_role("heading", name="Finance committee")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page_problems.seen == []


def test_refused_domain_forged_token_and_provider_down_each_end_on_a_sentence(
    new_page: Any, provider: OidcProvider, page_problems: Any, asgi_server: Any, settings: Any
) -> None:
    page = new_page("Someone", viewport=PHONE)
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with NHSmail").click()
    at_provider(page, "someone@gmail.com")
    expect(page.get_by_test_id("sso-error")).to_contain_text("only for addresses at @nhs.net")
    assert not User.objects.filter(email="someone@gmail.com").exists()

    # (A new browser: this one is still signed in at the provider as someone@gmail.com.)
    UserFactory.create(email="aisha.khan@nhs.net")
    provider.id_token_mode("forged")
    page = new_page("Aisha", viewport=PHONE)
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with NHSmail").click()
    at_provider(page, "aisha.khan@nhs.net")
    expect(page.get_by_test_id("sso-error")).to_contain_text("could not be trusted")
    page.goto("/")
    page.wait_for_url(re.compile(r"/accounts/login/"))  # nobody signed in

    provider.stop()
    wait_gone(provider)
    page.get_by_role("button", name="Sign in with NHSmail").click()
    expect(page.get_by_test_id("sso-error")).to_contain_text("NHSmail is not answering")
    # The password way in is still there for guests and administrators.
    page.get_by_role("link", name="Back to sign in").click()
    expect(page.get_by_label("Email")).to_be_visible()
    # The only console messages are the error pages' own statuses (403, 400, 503).
    assert page_problems.seen
    assert all(re.search(r"status of (400|403|503)", p) for p in page_problems.seen)
