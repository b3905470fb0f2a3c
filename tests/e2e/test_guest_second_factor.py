"""A guest's second factor, on a phone (360 px), in Chromium, with a second factor required of
everyone.

Aisha, an external guest, opens her invitation to the minutes from her email, creates her
account with a password and is sent to choose a second factor: a passkey (her phone's screen
lock) first and recommended, then a code by email, then an authenticator app. Each test takes
one path to its end (the passkey with Chromium's virtual authenticator; the code read from the
email the server sent; the app's code computed from the setup key the page shows), and shows
that she is never asked for the password she has just set, lands on the minutes, and that the
factor then asks for itself at her next sign-in. Nothing on those pages scrolls sideways; the
pages after the password pass axe-core's WCAG rules on the phone.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from e2e_support import PHONE, page_width
from playwright.sync_api import expect
from test_accessibility import violations
from test_passkeys import add_virtual_authenticator

from commonroom.accounts.models import EmailCodeFactor, User
from commonroom.accounts.tests.factories import UserFactory
from commonroom.documents.tests.factories import upload
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.services import invitation_create
from commonroom.workspaces.tests.factories import make_workspace

pytestmark = pytest.mark.e2e

AISHA = "aisha@partner.example"
AISHA_PASSWORD = "plum-harbour-lantern-42"


def totp_now(secret: str) -> str:
    """The code an authenticator app shows now (never one about to roll over)."""
    if 30 - time.time() % 30 < 2:
        time.sleep(2)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def code_in(mail: Any, mailbox: Any) -> str:
    found = re.search(r"^(\d{6})\r?$", mailbox.body(mail), re.M)
    assert found is not None, mailbox.body(mail)
    return found.group(1)


@pytest.fixture
def invitation(asgi_server: Any, smtp_server: Any, settings: Any) -> dict[str, Any]:
    """Priya's workspace with the minutes in it, and the link of Aisha's invitation to them, as
    her email brings it (the page of the minutes named in it)."""
    settings.SITE_URL = asgi_server.url
    settings.COMMONROOM_MFA_REQUIRED = "all"
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    workspace = make_workspace(manager=priya, name="Weekly budget meeting")
    minutes = upload(priya, workspace, "minutes-2026-11-24.txt", b"Minutes of the meeting.")
    document = f"/w/{workspace.pk}/d/{minutes.document_id}/"
    invitation_create(
        actor=priya,
        access=workspace_access(user=priya, workspace_id=workspace.pk),
        email=AISHA,
        role="commenter",
        open_path=document,
        open_label="minutes-2026-11-24.txt",
    )
    (mail,) = smtp_server.wait_for(1)
    link = re.search(r"https?://\S+/invitations/\S+", smtp_server.body(mail))
    assert link is not None
    assert "invited you to read" in smtp_server.body(mail)
    return {"link": link.group(0), "document": document}


def visited(page: Any) -> list[str]:
    """Every address the page's main frame goes to, from now on."""
    urls: list[str] = []
    page.on("framenavigated", lambda frame: frame.parent_frame or urls.append(frame.url))
    return urls


def join_and_choose(page: Any, link: str) -> None:
    """Aisha creates her account from the invitation and arrives at the choice of second
    factor, its three ways in order, the passkey first and recommended."""
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Join Weekly budget meeting")
    page.get_by_label("Your name").fill("Aisha Okafor")
    page.get_by_label("Choose a password").fill(AISHA_PASSWORD)
    page.get_by_role("button", name="Create account and join").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose how to prove it is you")
    choices = page.locator(".cr-factor-choices h2")
    expect(choices).to_have_text(
        ["Use this phone's screen lock", "Get a code by email", "Use an authenticator app"]
    )
    expect(page.locator("#factor-passkey")).to_contain_text("Recommended")
    assert page_width(page) <= PHONE["width"]


def on_the_minutes(page: Any, asgi_server: Any, document: str) -> None:
    expect(page).to_have_url(asgi_server.url + document)
    expect(page.get_by_role("heading", level=1)).to_contain_text("minutes-2026-11-24.txt")
    assert page_width(page) <= PHONE["width"]


def never_asked_for_the_password(urls: list[str]) -> None:
    assert not [u for u in urls if "/accounts/reauthenticate/" in u], urls


def sign_out_and_in_with_password(page: Any) -> None:
    """Aisha signs out (and is on the sign-in page, so the sign-out has happened), then gives
    her email address and password. On a phone "Sign out" is in the header's menu."""
    menu = page.locator("[data-header-toggle='cr-header-menu']")
    if menu.is_visible():
        menu.click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    page.get_by_label(re.compile("email", re.I)).fill(AISHA)
    page.get_by_label(re.compile("password", re.I)).fill(AISHA_PASSWORD)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()


def test_a_guest_chooses_her_phones_screen_lock(
    asgi_server: Any, new_page: Any, page_problems: Any, invitation: dict[str, Any]
) -> None:
    # Given Aisha on her phone, whose screen lock holds passkeys
    page = new_page("Aisha", viewport=PHONE)
    add_virtual_authenticator(page)
    urls = visited(page)
    join_and_choose(page, invitation["link"])

    # When she chooses her screen lock and unlocks her phone
    page.get_by_role("link", name="Use this phone's screen lock").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Use this phone's screen lock")
    assert page_width(page) <= PHONE["width"]
    page.get_by_role("button", name="Use my screen lock").click()

    # Then her passkey is kept, her recovery codes are shown, and she continues to the minutes
    # (the ceremony and the form's post can take a few seconds on a busy machine)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes", timeout=15_000)
    assert page_width(page) <= PHONE["width"]
    aisha = User.objects.get(email=AISHA)
    assert Authenticator.objects.filter(user=aisha, type="webauthn").exists()
    page.get_by_role("link", name="I have kept them: continue").click()
    on_the_minutes(page, asgi_server, invitation["document"])
    never_asked_for_the_password(urls)

    # And at her next sign-in, her screen lock is her second step
    sign_out_and_in_with_password(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Prove it is you")
    assert page_width(page) <= PHONE["width"]
    assert violations(page) == []
    page.get_by_role("button", name="Use my passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My workspaces", timeout=15_000)
    assert not page_problems.seen, "\n".join(page_problems.seen)


def test_a_guest_chooses_a_code_by_email(
    asgi_server: Any,
    new_page: Any,
    page_problems: Any,
    invitation: dict[str, Any],
    smtp_server: Any,
) -> None:
    page = new_page("Aisha", viewport=PHONE)
    urls = visited(page)
    join_and_choose(page, invitation["link"])

    # When she chooses a code by email, asks for one and types it from the email
    page.get_by_role("link", name="Get a code by email").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Get a code by email")
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_text("We sent a code to")).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    mails = smtp_server.wait_for(2)
    assert mails[-1]["To"] == AISHA
    page.get_by_label("Code from the email").fill(code_in(mails[-1], smtp_server))
    page.get_by_role("button", name="Turn on").click()

    # Then it is on, and she goes straight on to the minutes
    on_the_minutes(page, asgi_server, invitation["document"])
    expect(page.get_by_text("each time you sign in, we will email a code")).to_be_visible()
    assert EmailCodeFactor.objects.filter(user__email=AISHA).exists()
    never_asked_for_the_password(urls)

    # And at her next sign-in a new code is emailed and asked for
    sign_out_and_in_with_password(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    assert page_width(page) <= PHONE["width"]
    assert violations(page) == []
    mails = smtp_server.wait_for(3)
    page.get_by_label("Code from the email").fill(code_in(mails[-1], smtp_server))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My workspaces")
    assert not page_problems.seen, "\n".join(page_problems.seen)


def test_a_guest_chooses_an_authenticator_app_and_types_its_key(
    asgi_server: Any, new_page: Any, page_problems: Any, invitation: dict[str, Any]
) -> None:
    page = new_page("Aisha", viewport=PHONE)
    urls = visited(page)
    join_and_choose(page, invitation["link"])

    # When she chooses an authenticator app, the QR code and the setup key are both shown
    page.get_by_role("link", name="Use an authenticator app").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up an authenticator app")
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    expect(page.get_by_text("type this setup key into the app")).to_be_visible()
    shown = page.locator("#authenticator_secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})+", shown), shown
    assert page_width(page) <= PHONE["width"]

    # and she types the key into her app and the code it then shows
    page.get_by_label("Authenticator code").fill(totp_now(shown.replace(" ", "")))
    page.get_by_role("button", name="Turn on").click()

    # Then her recovery codes are shown, and she continues to the minutes
    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    assert violations(page) == []
    page.get_by_role("link", name="I have kept them: continue").click()
    on_the_minutes(page, asgi_server, invitation["document"])
    never_asked_for_the_password(urls)
    assert Authenticator.objects.filter(user__email=AISHA, type="totp").exists()
    assert not page_problems.seen, "\n".join(page_problems.seen)
