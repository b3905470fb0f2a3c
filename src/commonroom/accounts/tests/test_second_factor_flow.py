"""A guest's way through the second factor, page by page: accepting an invitation to a
document, sent to choose a second factor (passkey first), setting one up without being asked
for the password set a moment before, and back to the document at the end; and allauth's
"confirm it's you" when the sign-in was not minutes ago."""

from __future__ import annotations

import time
from typing import Any

import pytest
from allauth.account.internal.flows.login import (
    _AUTHENTICATION_METHODS_USER_SESSION_KEY,
    AUTHENTICATION_METHODS_SESSION_KEY,
)
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import reverse

from commonroom.accounts.tests.test_mfa import current_code
from commonroom.documents.tests.factories import upload
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.services import invitation_create

pytestmark = pytest.mark.django_db

GUEST_PASSWORD = "plum-harbour-lantern-42"


@pytest.fixture
def invited(team: Any) -> tuple[str, str]:
    """An invitation of aisha@partner.example as a commenter, and the path of the document it
    leads to (the minutes)."""
    doc = upload(team.manager, team.workspace, "minutes.txt", b"The minutes.").document
    issued = invitation_create(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
        email="aisha@partner.example",
        role="commenter",
    )
    return issued.token, reverse("document_detail", args=[team.workspace.pk, doc.pk])


def accept(client: Client, token: str, next_path: str = "") -> Any:
    url = reverse("invitation_accept", args=[token])
    if next_path:
        url += f"?next={next_path}"
    page = client.get(url)
    assert page.status_code == 200
    return client.post(
        url,
        {"full_name": "Aisha Okafor", "password": GUEST_PASSWORD, "next": next_path},
    )


def test_a_guest_sets_up_an_authenticator_app_without_her_password_again_and_lands_on_the_document(
    settings, invited
):
    settings.COMMONROOM_MFA_REQUIRED = "all"
    token, document = invited
    phone = Client()

    # When Aisha accepts the invitation to the minutes, she is signed in and sent towards them
    accepted = accept(phone, token, document)
    assert accepted["Location"] == document
    # but first to choose a second factor, which keeps where she was going
    choose = phone.get(document)["Location"]
    assert choose == reverse("account_second_factor") + "?" + f"next={document}".replace("/", "%2F")
    page = phone.get(choose).content.decode()
    assert page.index("Use this phone's screen lock") < page.index("Get a code by email")
    assert page.index("Get a code by email") < page.index("Use an authenticator app")
    assert "Recommended" in page

    # When she picks the authenticator app: the page opens at once (no password asked again),
    # with the QR code and the setup key in groups of four
    totp = phone.get(reverse("mfa_activate_totp"))
    assert totp.status_code == 200
    secret = phone.session["mfa.totp.secret"]
    shown = totp.content.decode()
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in shown
    assert "type this setup key into the app" in shown and "otpauth://totp/" in shown
    done = phone.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})

    # Then her recovery codes are shown (no password asked again either), and "continue" takes
    # her to the minutes
    assert done["Location"] == reverse("mfa_view_recovery_codes")
    codes = phone.get(done["Location"])
    assert codes.status_code == 200
    assert reverse("account_second_factor_continue") in codes.content.decode()
    assert phone.get(reverse("account_second_factor_continue"))["Location"] == document
    assert phone.get(document).status_code == 200
    assert Authenticator.objects.filter(user__email="aisha@partner.example", type="totp").exists()


def test_an_invitation_leads_only_inside_its_workspace(team, invited):
    token, _document = invited
    other = Client()
    elsewhere = accept(other, token, "/admin/")
    assert elsewhere["Location"] == reverse("workspace_detail", args=[team.workspace.pk])


def test_minutes_after_signing_in_allauth_asks_to_confirm_it_is_you_again(settings, invited):
    settings.COMMONROOM_MFA_REQUIRED = "all"
    token, document = invited
    phone = Client()
    accept(phone, token, document)
    # As if she had accepted more than ACCOUNT_REAUTHENTICATION_TIMEOUT ago
    session = phone.session
    records = session[AUTHENTICATION_METHODS_SESSION_KEY]
    assert [r["method"] for r in records] == ["password"]
    for record in records:
        record["at"] = time.time() - settings.ACCOUNT_REAUTHENTICATION_TIMEOUT - 1
    session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    session.save()

    response = phone.get(reverse("mfa_activate_totp"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


@pytest.mark.parametrize(
    ("method", "asked"),
    [("password", False), ("mfa", False), ("socialaccount", False), ("password_reset", True)],
)
def test_which_recent_proof_spares_the_confirmation(settings, team, method, asked):
    """A password, a second factor or the identity provider minutes ago spare it; a
    password-reset link (the mailbox alone) does not."""
    client = Client()
    client.force_login(team.commenter)
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [{"method": method, "at": time.time()}]
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(team.commenter.pk)
    session.save()

    response = client.get(reverse("mfa_activate_totp"))

    if asked:
        assert response["Location"].startswith(reverse("account_reauthenticate"))
    else:
        assert response.status_code == 200
