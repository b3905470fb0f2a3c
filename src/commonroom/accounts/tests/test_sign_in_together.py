"""People signing in at the same moment from one address (a trust's staff behind one NAT
address at nine o'clock): allauth counts each sign-in against the failed sign-ins of its
address while it is in progress, so with a limit of 5 the sixth correct password in flight was
refused as "too many failed sign-ins". Here ten are held in flight at once, by taking every
turn to hash a password (accounts.hashers) until all have started."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse

from commonroom.accounts.hashers import hashing_slots
from commonroom.accounts.tests.factories import PASSWORD, UserFactory

PEOPLE = 10


@pytest.mark.django_db(transaction=True)
def test_ten_correct_sign_ins_in_flight_from_one_address_all_go_through(settings: Any) -> None:
    settings.COMMONROOM_MFA_REQUIRED = "none"
    people = [UserFactory.create(email=f"arrival{n}@example.org") for n in range(PEOPLE)]
    answers: dict[str, int] = {}
    started = threading.Semaphore(0)

    def sign_in(email: str) -> None:
        try:
            started.release()
            page = Client().post(
                reverse("account_login"),
                {"login": email, "password": PASSWORD},
                REMOTE_ADDR="198.51.100.20",
            )
            answers[email] = page.status_code
        finally:
            close_old_connections()

    slots = hashing_slots()
    held = 0
    while slots.acquire(blocking=False):
        held += 1
    threads = [threading.Thread(target=sign_in, args=(p.email,)) for p in people]
    try:
        for thread in threads:
            thread.start()
        for _ in threads:
            assert started.acquire(timeout=10)
        time.sleep(1)  # each has reached its turn to hash, and waits there
        assert not answers, "a sign-in finished without its turn to hash"
    finally:
        for _ in range(held):
            slots.release()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == {p.email: 302 for p in people}


@pytest.mark.django_db
def test_failed_sign_ins_over_many_accounts_from_one_address_are_still_limited(
    settings: Any,
) -> None:
    """The address's own limit holds: its failures over 30 different accounts within a minute,
    and the next sign-in from there is refused, even with the right password."""
    settings.COMMONROOM_MFA_REQUIRED = "none"
    rate = settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",")[0]
    assert rate.endswith("/m/ip")
    limit = int(rate.split("/")[0])
    person = UserFactory.create(email="owner@example.org")
    address = "198.51.100.30"
    for n in range(limit):
        wrong = Client().post(
            reverse("account_login"),
            {"login": f"guess{n}@example.org", "password": "not it at all"},
            REMOTE_ADDR=address,
        )
        assert wrong.status_code == 200 and b"Too many failed" not in wrong.content
    refused = Client().post(
        reverse("account_login"),
        {"login": person.email, "password": PASSWORD},
        REMOTE_ADDR=address,
    )
    assert refused.status_code == 200
    assert b"Too many failed sign-ins from here" in refused.content
    elsewhere = Client().post(
        reverse("account_login"),
        {"login": person.email, "password": PASSWORD},
        REMOTE_ADDR="198.51.100.31",
    )
    assert elsewhere.status_code == 302  # the owner, from another address, is not held up
