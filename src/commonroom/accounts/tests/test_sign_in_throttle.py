"""The owner cannot be locked out: one account's password attempts from many clients are slowed,
one at a time, never locked; and while its password is throttled, a passkey and a password-reset
link still get its owner in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.accounts.tests.passkeys import Passkey
from commonroom.accounts.tests.test_sign_in import (
    TOO_MANY,
    failures_allowed_per_account,
    sign_in,
    signed_in,
)
from commonroom.audit.models import Action, AuditEvent

OWNER_IP = "203.0.113.20"
WAITS = b"each try now waits its turn"
NEW_PASSWORD = "a-new-and-longer-passphrase"


@pytest.fixture
def person(db):
    return UserFactory.create(email="tom@example.org")


def guesses(email: str, count: int, *, first: int = 1) -> list[bytes]:
    """Wrong passwords for ``email``, each from a client of its own."""
    return [
        sign_in(Client(), email, "wrong-password", ip=f"198.51.100.{n}").content
        for n in range(first, first + count)
    ]


def test_a_guess_spread_over_many_clients_is_slowed_one_attempt_at_a_time(person, settings):
    """Three failures from anywhere go as they come; after that one attempt per turn, each
    turn twice as long; an attempt that finds the turn taken is turned away before its
    password is looked at, told how long to wait; once the turn is over, the owner is in."""
    settings.COMMONROOM_LOGIN_ACCOUNT_BACKOFF = (3, 3600, 300)
    assert not any(WAITS in page for page in guesses(person.email, 3))

    # The 4th attempt takes the turn (1 s) and fails; the 5th, at once, is turned away.
    assert WAITS not in guesses(person.email, 1, first=4)[0]
    turned_away = guesses(person.email, 1, first=5)[0]
    assert WAITS in turned_away and b"Try again in 1 second." in turned_away

    time.sleep(1.1)
    assert WAITS not in guesses(person.email, 1, first=6)[0]  # took the next turn: 2 s
    owner = Client()
    early = sign_in(owner, person.email, PASSWORD, ip=OWNER_IP)
    assert WAITS in early.content and b"Try again in 2 seconds." in early.content
    assert not signed_in(owner)

    time.sleep(2.1)
    assert sign_in(owner, person.email, PASSWORD, ip=OWNER_IP).status_code == 302
    assert signed_in(owner)

    # Turned-away attempts are in the trail (the password was not looked at: no other row).
    slowed = AuditEvent.objects.filter(action=Action.LOGIN_FAILED, data__reason="account_slowed")
    assert sorted(slowed.values_list("ip", flat=True)) == ["198.51.100.5", OWNER_IP]
    wrong = AuditEvent.objects.filter(action=Action.LOGIN_FAILED, data={})
    assert wrong.count() == 5  # attempts 1, 2, 3, 4 and 6


def test_a_success_gives_the_turn_back(person, settings):
    settings.COMMONROOM_LOGIN_ACCOUNT_BACKOFF = (2, 3600, 300)
    guesses(person.email, 2)
    owner = Client()
    assert sign_in(owner, person.email, PASSWORD, ip=OWNER_IP).status_code == 302  # its turn

    # The next attempt, at once, is not told to wait for the owner's turn.
    assert WAITS not in guesses(person.email, 1, first=50)[0]


def throttle_the_password(person, owner: Client) -> None:
    """Tom's password refused at his own client (his count there, for minutes), and the
    account slowed by wrong passwords from ten other clients."""
    for _ in range(failures_allowed_per_account()):
        sign_in(owner, person.email, "wrong-password", ip=OWNER_IP)
    guesses(person.email, 10)
    assert TOO_MANY in sign_in(owner, person.email, PASSWORD, ip=OWNER_IP).content
    slowed = AuditEvent.objects.filter(action=Action.LOGIN_FAILED, data__reason="account_slowed")
    assert slowed.exists()


def test_the_owner_signs_in_with_a_passkey_while_the_password_is_throttled(person):
    passkey = Passkey(person).add()
    owner = Client()
    throttle_the_password(person, owner)

    response = passkey.sign_in(owner, REMOTE_ADDR=OWNER_IP)

    assert (response.status_code, response["Location"]) == (302, reverse("home"))
    assert signed_in(owner)
    login = AuditEvent.objects.get(action=Action.LOGIN)
    assert (login.actor_id, login.ip) == (person.pk, OWNER_IP)
    # The password is still refused there: the passkey went round the throttle, not through it.
    assert TOO_MANY in sign_in(Client(), person.email, PASSWORD, ip=OWNER_IP).content


def test_a_reset_link_gets_the_owner_in_while_the_password_is_throttled(person, client):
    """The reset email still goes out, its link sets a new password and signs Tom in, and the
    password's counts are forgotten: the new password works at once, there and elsewhere."""
    throttle_the_password(person, client)

    asked = client.post(
        reverse("account_reset_password"), {"email": person.email}, REMOTE_ADDR=OWNER_IP
    )
    assert asked.status_code == 302
    [email] = mail.outbox
    assert email.to == [person.email]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", str(email.body))
    assert link, email.body
    form = client.get(link.group(1), REMOTE_ADDR=OWNER_IP, follow=True)
    assert form.status_code == 200
    set_password_url = form.redirect_chain[-1][0] if form.redirect_chain else link.group(1)

    done = client.post(
        set_password_url,
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        REMOTE_ADDR=OWNER_IP,
    )

    assert done.status_code == 302
    assert signed_in(client)
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)
    for ip in (OWNER_IP, "192.0.2.1"):
        elsewhere = Client()
        assert sign_in(elsewhere, person.email, NEW_PASSWORD, ip=ip).status_code == 302
        assert signed_in(elsewhere)


@pytest.mark.parametrize("value", ["ten/1h/5m", "10/1h", "10/1y/5m", "10/0m/5m"])
def test_a_backoff_that_does_not_read_refuses_to_start(tmp_path, value):
    env = {**os.environ, "COMMONROOM_DATA_DIR": str(tmp_path)}
    refused = subprocess.run(
        [sys.executable, "-m", "commonroom", "check"],
        env={**env, "COMMONROOM_LOGIN_ACCOUNT_BACKOFF": value},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode != 0
    assert (
        "COMMONROOM_LOGIN_ACCOUNT_BACKOFF is <failures>/<window>/<longest wait>" in refused.stderr
    )
    accepted = subprocess.run(
        [sys.executable, "-m", "commonroom", "check"],
        env={**env, "COMMONROOM_LOGIN_ACCOUNT_BACKOFF": "30/2h/10m"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


def test_a_whole_office_behind_one_address_signs_in_at_nine(db):
    """Sixty people of one trust, all behind the same NAT address, sign in within the minute:
    every one gets in (allauth's own limit, 30 a minute from one address, would turn half away);
    failures from that address are still held to their own limit."""
    office = "192.0.2.9"
    people = [UserFactory.create(email=f"staff{n}@example.org") for n in range(60)]
    for person in people:
        client = Client()
        answer = sign_in(client, person.email, PASSWORD, ip=office)
        assert answer.status_code == 302, f"{person.email}: {answer.status_code}"
        assert signed_in(client)
    refused = [sign_in(Client(), "staff0@example.org", "wrong", ip=office) for _ in range(8)]
    assert any(TOO_MANY in page.content for page in refused)
