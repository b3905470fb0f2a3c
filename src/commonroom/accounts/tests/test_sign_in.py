"""Signing in with email and password: audited when it works and when it fails; rate limited per
account at each client, so a guesser elsewhere cannot lock the owner out."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from commonroom.accounts.models import User
from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.audit.models import Action, AuditEvent

IP = "203.0.113.7"
TOO_MANY = b"Too many failed sign-ins"


def sign_in(client, email, password, *, ip=IP):
    return client.post(
        reverse("account_login"),
        {"login": email, "password": password},
        REMOTE_ADDR=ip,
        HTTP_USER_AGENT="Firefox/140",
    )


def signed_in(client) -> bool:
    response = client.get(reverse("home"))
    return response.status_code == 200


def failures_allowed_per_account() -> int:
    """The limit for one account at one client from the configured rate: ``5/5m/key`` -> 5."""
    rates = settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",")
    per_key = [r for r in rates if r.strip().endswith("/key")]
    assert per_key, "failed sign-ins must be limited per account at each client"
    return int(per_key[0].split("/")[0])


@pytest.fixture
def person(db):
    return UserFactory.create(email="tom@example.org")


def test_sign_in_with_email_and_password(person, client):
    assert not signed_in(client)

    response = sign_in(client, "Tom@Example.org", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert signed_in(client)
    assert int(client.session["_auth_user_id"]) == person.pk


def test_successful_sign_in_is_audited(person, client):
    sign_in(client, person.email, PASSWORD)

    event = AuditEvent.objects.get(action=Action.LOGIN)
    assert (event.actor_id, event.actor_email) == (person.pk, person.email)
    assert event.ip == IP
    assert event.user_agent == "Firefox/140"
    assert not AuditEvent.objects.filter(action=Action.LOGIN_FAILED).exists()


@pytest.mark.parametrize("email", ["tom@example.org", "nobody@example.org"])
def test_failed_sign_in_is_audited_with_the_attempted_address(person, client, email):
    response = sign_in(client, email, "wrong-password")

    assert response.status_code == 200  # the form again, with an error
    assert not signed_in(client)
    event = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    assert event.actor_email == email
    assert event.target_label == email
    assert event.ip == IP
    assert event.actor_id is None
    assert not AuditEvent.objects.filter(action=Action.LOGIN).exists()


def test_inactive_person_cannot_sign_in(person, client):
    person.is_active = False
    person.save()
    sign_in(client, person.email, PASSWORD)
    assert not signed_in(client)
    assert not AuditEvent.objects.filter(action=Action.LOGIN).exists()


def test_repeated_failures_from_one_client_refuse_it_even_with_the_right_password(person, client):
    limit = failures_allowed_per_account()
    for _ in range(limit):
        sign_in(client, person.email, "wrong-password")
    assert AuditEvent.objects.filter(action=Action.LOGIN_FAILED).count() >= limit

    response = sign_in(client, person.email, PASSWORD)

    assert response.status_code == 200
    assert TOO_MANY in response.content
    assert not signed_in(client)
    assert not AuditEvent.objects.filter(action=Action.LOGIN).exists()


def test_a_guesser_elsewhere_cannot_lock_the_owner_out(person):
    """Wrong passwords for Tom's account from one client, past its limit and on: Tom, at his
    own client, signs in with his password at once."""
    guesser = Client()
    for _ in range(failures_allowed_per_account() + 3):
        sign_in(guesser, person.email, "wrong-password", ip="198.51.100.66")
    assert TOO_MANY in sign_in(guesser, person.email, PASSWORD, ip="198.51.100.66").content
    assert not signed_in(guesser)

    owner = Client()
    response = sign_in(owner, person.email, PASSWORD, ip="203.0.113.20")

    assert response.status_code == 302
    assert signed_in(owner)
    assert AuditEvent.objects.get(action=Action.LOGIN).ip == "203.0.113.20"


def test_the_refusal_names_the_ways_in_that_are_never_refused(person, client):
    for _ in range(failures_allowed_per_account()):
        sign_in(client, person.email, "wrong-password")

    page = sign_in(client, person.email, PASSWORD).content.decode()

    assert "Try again in a few minutes" in page
    assert "sign in with a passkey" in page
    assert "Forgotten your password?" in page
    assert reverse("account_reset_password") in page  # the link itself is on the page
    assert "Sign in with NHSmail" not in page  # no single sign-on here


def test_with_single_sign_on_the_refusal_names_it_too(person, client, settings):
    settings.COMMONROOM_OIDC_ISSUER = "https://login.example.nhs.uk"
    settings.COMMONROOM_OIDC_LABEL = "Sign in with NHSmail"
    for _ in range(failures_allowed_per_account()):
        sign_in(client, person.email, "wrong-password")

    page = sign_in(client, person.email, PASSWORD).content.decode()

    assert "choose “Sign in with NHSmail” if you are staff" in page


def test_the_limit_holds_whatever_host_and_port_the_attempts_name(person):
    """Every attempt from one client naming another port of the same host (all pass
    ALLOWED_HOSTS): the count is one count, not one per Host header."""
    limit = failures_allowed_per_account()
    for n in range(limit):
        attempt = Client(HTTP_HOST=f"127.0.0.1:{8000 + n}")
        sign_in(attempt, person.email, "wrong-password")
    last = Client(HTTP_HOST="localhost:9999")
    response = sign_in(last, person.email, PASSWORD)
    assert TOO_MANY in response.content
    assert not signed_in(last)


def test_refused_attempts_are_audited_too(person, client):
    limit = failures_allowed_per_account()
    for _ in range(limit):
        sign_in(client, person.email, "wrong-password")
    before = AuditEvent.objects.filter(action=Action.LOGIN_FAILED).count()

    sign_in(client, person.email, PASSWORD)

    refused = AuditEvent.objects.filter(action=Action.LOGIN_FAILED).order_by("-seq")
    assert refused.count() == before + 1
    assert refused[0].actor_email == person.email
    assert refused[0].ip == IP
    assert refused[0].data == {"reason": "rate_limited"}


def test_a_flood_of_refused_attempts_is_recorded_once_a_minute(person, client):
    limit = failures_allowed_per_account()
    for _ in range(limit):
        sign_in(client, person.email, "wrong-password")
    for _ in range(20):
        sign_in(client, person.email, PASSWORD)
    limited = AuditEvent.objects.filter(action=Action.LOGIN_FAILED, data__reason="rate_limited")
    assert limited.count() == 1


def test_successes_do_not_count_towards_the_limit(person):
    limit = failures_allowed_per_account()
    for _ in range(limit + 2):
        c = Client()
        sign_in(c, person.email, PASSWORD)
        assert signed_in(c)


def test_failures_below_the_limit_do_not_lock(person, client):
    for _ in range(failures_allowed_per_account() - 1):
        sign_in(client, person.email, "wrong-password")
    sign_in(client, person.email, PASSWORD)
    assert signed_in(client)


def test_open_sign_up_is_closed(db, client):
    """People arrive by invitation or are created by an administrator."""
    response = client.post(
        reverse("account_signup"),
        {"email": "me@example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert "account/signup_closed.html" in [t.name for t in response.templates]
    assert not User.objects.filter(email="me@example.org").exists()
