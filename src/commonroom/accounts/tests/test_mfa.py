"""The second-factor policy (all / staff / none) and signing in with a TOTP code."""

from __future__ import annotations

import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.test import Client
from django.urls import reverse

from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import PASSWORD, GuestFactory, UserFactory
from commonroom.audit.models import Action, AuditEvent


def current_code(secret: str) -> str:
    """The code an authenticator app shows now (never one about to roll over)."""
    period = mfa_settings.TOTP_PERIOD
    if period - time.time() % period < 2:
        time.sleep(2)
    return format_hotp_value(hotp_value(secret, int(time.time()) // period))


@pytest.fixture
def staff(db):
    return UserFactory.create(email="priya@example.org")


@pytest.fixture
def guest(db):
    return GuestFactory.create(email="aisha@example.org")


def logged_in(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


# --- The policy --------------------------------------------------------------------------------

# policy -> (staff sent to set up a second factor, guest sent to set one up)
POLICY = {
    "all": (True, True),
    "staff": (True, False),
    "none": (False, False),
}


@pytest.mark.parametrize("policy", sorted(POLICY))
@pytest.mark.parametrize("kind", ["staff", "guest"])
def test_policy_sends_people_without_a_second_factor_to_set_one_up(
    settings, staff, guest, policy, kind
):
    settings.COMMONROOM_MFA_REQUIRED = policy
    person = {"staff": staff, "guest": guest}[kind]
    must = POLICY[policy][0 if kind == "staff" else 1]

    response = logged_in(person).get(reverse("home"))

    if must:
        assert response.status_code == 302
        assert response["Location"] == reverse("account_second_factor") + "?next=%2F"
    else:
        assert response.status_code == 200


def test_set_up_page_itself_is_reachable_when_required(settings, staff):
    settings.COMMONROOM_MFA_REQUIRED = "all"
    c = logged_in(staff)
    assert c.get(reverse("account_second_factor")).status_code == 200
    # A session that did not sign in with the password minutes ago (here: none at all) is
    # asked for it again before a second factor is added.
    response = c.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert c.get(response["Location"]).status_code == 200
    # and a person can still sign out
    assert c.post(reverse("account_logout")).status_code == 302
    assert c.get(reverse("home"))["Location"].startswith(reverse("account_login"))


def test_policy_is_satisfied_by_an_authenticator(settings, staff):
    settings.COMMONROOM_MFA_REQUIRED = "all"
    TOTP.activate(staff, generate_totp_secret())
    assert logged_in(staff).get(reverse("home")).status_code == 200


def test_every_page_is_guarded_not_only_home(settings, staff):
    settings.COMMONROOM_MFA_REQUIRED = "staff"
    c = logged_in(staff)
    for name in ["account_tokens", "account_security", "workspace_create"]:
        response = c.get(reverse(name))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("account_second_factor") + "?next=")


# --- Signing in with a TOTP code ---------------------------------------------------------------


@pytest.fixture
def with_totp(staff):
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)
    return staff, secret


def password_step(client, user):
    return client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})


def test_sign_in_asks_for_the_code_and_a_correct_code_gets_in(settings, with_totp):
    settings.COMMONROOM_MFA_REQUIRED = "all"
    user, secret = with_totp
    client = Client()

    response = password_step(client, user)

    # The password alone is not enough: the code is asked for, and nothing is open yet.
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get(reverse("home"))["Location"].startswith(reverse("account_login"))
    assert not AuditEvent.objects.filter(action=Action.LOGIN).exists()

    response = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    assert AuditEvent.objects.get(action=Action.LOGIN).actor_id == user.pk


def test_a_wrong_code_does_not_get_in_and_is_audited(with_totp):
    user, secret = with_totp
    client = Client()
    password_step(client, user)
    good = current_code(secret)
    wrong = f"{(int(good) + 1) % 10**6:06d}"

    response = client.post(reverse("mfa_authenticate"), {"code": wrong})

    assert response.status_code == 200
    assert client.get(reverse("home")).status_code == 302
    assert not AuditEvent.objects.filter(action=Action.LOGIN).exists()
    event = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    assert event.actor_id == user.pk
    assert event.data == {"reason": "second_factor"}


def test_a_code_cannot_be_used_twice(with_totp):
    user, secret = with_totp
    code = current_code(secret)
    first = Client()
    password_step(first, user)
    first.post(reverse("mfa_authenticate"), {"code": code})
    assert first.get(reverse("home")).status_code == 200

    second = Client()
    password_step(second, user)
    second.post(reverse("mfa_authenticate"), {"code": code})
    assert second.get(reverse("home")).status_code == 302


def test_setting_up_an_authenticator_app_works_and_is_audited(
    settings, staff, django_capture_on_commit_callbacks
):
    # Given a person who must set up a second factor, signed in with their password
    settings.COMMONROOM_MFA_REQUIRED = "all"
    client = Client()
    assert password_step(client, staff)["Location"] == reverse("home")
    assert client.get(reverse("home"))["Location"].startswith(reverse("account_second_factor"))

    # When they scan the secret and type the code their app shows (not asked for their
    # password again: they gave it a moment ago)
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    secret = client.session["mfa.totp.secret"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})

    # Then the authenticator is kept, the change audited, and the pages open
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=staff, type="totp").exists()
    changes = AuditEvent.objects.filter(action=Action.MFA_CHANGED, actor_id=staff.pk)
    assert {"type": "totp", "added": True} in [e.data for e in changes]
    assert client.get(reverse("home")).status_code == 200


def test_api_refuses_a_session_without_the_required_second_factor(settings, staff):
    settings.COMMONROOM_MFA_REQUIRED = "staff"
    c = logged_in(staff)
    response = c.get("/api/v1/me")
    assert response.status_code == 403
    assert response.json()["code"] == "second_factor_required"
    TOTP.activate(staff, generate_totp_secret())
    assert c.get("/api/v1/me").status_code == 200


def test_api_tokens_are_not_held_to_the_session_policy(settings, staff):
    """A token is made from a page, which is only reachable with the second factor in place."""
    settings.COMMONROOM_MFA_REQUIRED = "all"
    secret = token_create(actor=staff, name="script").secret
    response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
