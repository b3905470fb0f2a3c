"""A second factor is limited as a password is: a wrong code counts against the client address's
failed sign-ins, a correct one counts against nothing and never clears them (allauth.mfa's own
check cleared the whole address's count on every correct code, so anyone holding one account's
password and authenticator app could wipe their address's failures between guesses at other
accounts' passwords); and one person's wrong codes are limited from everywhere."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from django.urls import reverse

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.accounts.tests.test_mfa import current_code
from commonroom.accounts.tests.test_sign_in import sign_in

ADDRESS = "198.51.100.20"
TOO_MANY_HERE = b"Too many failed sign-ins from here"


def password_step(client: Client, email: str, password: str = PASSWORD) -> Any:
    return sign_in(client, email, password, ip=ADDRESS)


def code_step(client: Client, code: str) -> Any:
    return client.post(reverse("mfa_authenticate"), {"code": code}, REMOTE_ADDR=ADDRESS)


def signed_in(client: Client) -> bool:
    return client.get(reverse("home"), REMOTE_ADDR=ADDRESS).status_code == 200


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


@pytest.fixture
def limits(settings: Any) -> None:
    """Three failures a minute from one address; five wrong codes per person."""
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": "3/m/ip,5/5m/key",
    }


@pytest.fixture
def with_app(db: Any) -> tuple[Any, str]:
    person = UserFactory.create(email="dev@example.org")
    secret = generate_totp_secret()
    TOTP.activate(person, secret)
    return person, secret


def test_a_correct_code_leaves_the_addresss_failed_sign_ins_as_they_were(
    limits: None, with_app: tuple[Any, str]
) -> None:
    person, secret = with_app
    UserFactory.create(email="target@example.org")
    for _ in range(2):
        password_step(Client(), "target@example.org", "guess")
    # Two failures from the address; the guesser's own account, with its app's code, gets in...
    own = Client()
    password_step(own, person.email)
    assert code_step(own, current_code(secret)).status_code == 302
    assert signed_in(own)
    # ...and the third guess is still the address's third: a fourth attempt is refused, even
    # with the right password.
    password_step(Client(), "target@example.org", "guess")
    refused = password_step(Client(), "target@example.org")
    assert TOO_MANY_HERE in refused.content


def test_wrong_codes_count_against_the_address(limits: None, with_app: tuple[Any, str]) -> None:
    person, secret = with_app
    client = Client()
    password_step(client, person.email)
    for _ in range(3):
        answer = code_step(client, wrong(current_code(secret)))
        assert answer.status_code == 200 and not signed_in(client)
    other = UserFactory.create(email="other@example.org")
    refused = password_step(Client(), other.email)
    assert TOO_MANY_HERE in refused.content


def test_correct_codes_from_one_address_count_against_nothing(limits: None, db: Any) -> None:
    """Five people entering their codes from one NAT address under a limit of three failures."""
    for n in range(5):
        person = UserFactory.create(email=f"staff{n}@example.org")
        secret = generate_totp_secret()
        TOTP.activate(person, secret)
        client = Client()
        password_step(client, person.email)
        assert code_step(client, current_code(secret)).status_code == 302
        assert signed_in(client)


def test_one_persons_wrong_codes_are_limited_from_everywhere(
    settings: Any, with_app: tuple[Any, str]
) -> None:
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": "100/m/ip,2/5m/key",
    }
    person, secret = with_app
    for address in ("192.0.2.1", "192.0.2.2"):
        client = Client()
        client.post(
            reverse("account_login"),
            {"login": person.email, "password": PASSWORD},
            REMOTE_ADDR=address,
        )
        client.post(
            reverse("mfa_authenticate"), {"code": wrong(current_code(secret))}, REMOTE_ADDR=address
        )
    # Two wrong codes, from two places: the right code is now refused for a while.
    client = Client()
    client.post(
        reverse("account_login"),
        {"login": person.email, "password": PASSWORD},
        REMOTE_ADDR="192.0.2.3",
    )
    answer = client.post(
        reverse("mfa_authenticate"), {"code": current_code(secret)}, REMOTE_ADDR="192.0.2.3"
    )
    assert answer.status_code == 200
    assert b"Too many" in answer.content
    assert client.get(reverse("home")).status_code == 302


def test_a_new_authenticator_apps_first_code_is_limited_too(limits: None, db: Any) -> None:
    """Wrong first codes of a new app count against the address; the right one then adds it."""
    person = UserFactory.create(email="new@example.org")
    client = Client()
    password_step(client, person.email)  # signed in a moment ago: not asked to confirm again
    assert client.get(reverse("mfa_activate_totp"), REMOTE_ADDR=ADDRESS).status_code == 200
    secret = client.session["mfa.totp.secret"]
    for _ in range(2):
        answer = client.post(
            reverse("mfa_activate_totp"),
            {"code": wrong(current_code(secret))},
            REMOTE_ADDR=ADDRESS,
        )
        assert answer.status_code == 200
    added = client.post(
        reverse("mfa_activate_totp"), {"code": current_code(secret)}, REMOTE_ADDR=ADDRESS
    )
    assert added.status_code == 302
    assert Authenticator.objects.filter(user=person, type="totp").exists()
    # Two wrong codes, and the right one cleared nothing: one more failure fills the address.
    password_step(Client(), "nobody@example.org", "guess")
    assert TOO_MANY_HERE in password_step(Client(), person.email).content


def test_a_passkey_after_the_password_is_limited_as_a_code_is(limits: None, db: Any) -> None:
    """A forged passkey answer counts against the address; the owner's own passkey then gets in
    and clears nothing of the address's count."""
    from commonroom.accounts.tests.passkeys import Passkey

    person = UserFactory.create(email="keyholder@example.org")
    passkey = Passkey(person).add()
    for _ in range(2):
        client = Client()
        password_step(client, person.email)
        passkey.after_password(client, forged=True, REMOTE_ADDR=ADDRESS)
        assert not signed_in(client)
    client = Client()
    password_step(client, person.email)
    assert passkey.after_password(client, REMOTE_ADDR=ADDRESS).status_code == 302
    assert signed_in(client)
    password_step(Client(), "nobody@example.org", "guess")
    assert TOO_MANY_HERE in password_step(Client(), person.email).content
