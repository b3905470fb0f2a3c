"""The password hasher in production (``accounts.hashers``): Argon2id at OWASP's recommended
cost, hashes made with Django's heavier default still accepted and rewritten at the next sign-in,
and no more hashings at once in a process than the setting allows."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher as DjangoArgon2
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.test import Client
from django.urls import reverse

from commonroom.accounts.hashers import Argon2PasswordHasher, hashing_slots
from commonroom.accounts.models import User
from commonroom.accounts.tests.factories import UserFactory

PRODUCTION = ["commonroom.accounts.hashers.Argon2PasswordHasher"]
PASSWORD = "a long enough secret 7"


def test_new_hashes_are_argon2id_at_owasps_first_recommended_cost(settings: Any) -> None:
    settings.PASSWORD_HASHERS = PRODUCTION
    encoded = make_password(PASSWORD)
    decoded = Argon2PasswordHasher().decode(encoded)
    assert encoded.startswith("argon2$argon2id$")
    assert (decoded["memory_cost"], decoded["time_cost"], decoded["parallelism"]) == (47104, 1, 1)
    assert check_password(PASSWORD, encoded)
    assert not check_password(PASSWORD + "x", encoded)


@pytest.mark.django_db
def test_a_hash_made_with_djangos_default_still_signs_in_and_is_rewritten(
    settings: Any,
) -> None:
    settings.PASSWORD_HASHERS = PRODUCTION
    settings.COMMONROOM_MFA_REQUIRED = "none"
    person = UserFactory.create(email="older@example.org")
    before = DjangoArgon2().encode(PASSWORD, DjangoArgon2().salt())
    User.objects.filter(pk=person.pk).update(password=before)
    assert identify_hasher(before).must_update(before)  # heavier parameters: to be rewritten

    client = Client()
    page = client.post(reverse("account_login"), {"login": person.email, "password": PASSWORD})

    assert page.status_code == 302, page.content.decode()[:500]
    after = User.objects.get(pk=person.pk).password
    assert after != before
    decoded = Argon2PasswordHasher().decode(after)
    assert (decoded["memory_cost"], decoded["time_cost"], decoded["parallelism"]) == (47104, 1, 1)


def test_a_hashing_waits_while_every_turn_is_taken(settings: Any) -> None:
    settings.PASSWORD_HASHERS = PRODUCTION
    encoded = make_password(PASSWORD)
    slots = hashing_slots()
    held = 0
    while slots.acquire(blocking=False):
        held += 1
    assert held == settings.COMMONROOM_PASSWORD_HASHES_AT_ONCE
    result: list[bool] = []
    waiting = threading.Thread(target=lambda: result.append(check_password(PASSWORD, encoded)))
    try:
        waiting.start()
        time.sleep(0.5)
        assert waiting.is_alive() and not result  # no turn: it has not hashed
    finally:
        for _ in range(held):
            slots.release()
    waiting.join(timeout=10)
    assert result == [True]
