"""People signing in at the same moment from one address (a trust's staff behind one NAT
address at nine o'clock): allauth counts each sign-in against the failed sign-ins of its
address while it is in progress, so with a limit of 5 the sixth correct password in flight was
refused as "too many failed sign-ins". Here sign-ins are held in flight at once, by taking
every turn to hash a password (accounts.hashers) until all have started: ten all go through;
past ``COMMONROOM_SIGN_INS_AT_ONCE`` the next are asked to try again in a few seconds, before
any password is looked at; a wait for a turn to hash that runs out answers 503."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.cache import cache
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse

from commonroom.accounts import throttle
from commonroom.accounts.adapters import TOO_MANY_AT_ONCE
from commonroom.accounts.hashers import HASHING_BUSY_MESSAGE, hashing_slots
from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.audit.models import AuditEvent

PEOPLE = 10


def post_sign_in(email: str, address: str) -> Any:
    """The sign-in form sent with the right password, from ``address``, by a fresh browser."""
    return Client().post(
        reverse("account_login"), {"login": email, "password": PASSWORD}, REMOTE_ADDR=address
    )


def _signing_in(address: str, answers: dict[str, Any]) -> tuple[Callable[[str], None], Any]:
    """A sign-in to run in a thread, writing its answer under its email, and a semaphore
    released as each starts."""
    started = threading.Semaphore(0)

    def sign_in(email: str) -> None:
        try:
            started.release()
            answers[email] = post_sign_in(email, address)
        finally:
            close_old_connections()

    return sign_in, started


@contextmanager
def no_turn_to_hash() -> Iterator[None]:
    """Every turn to hash a password is taken until the block ends."""
    slots = hashing_slots()
    held = 0
    while slots.acquire(blocking=False):
        held += 1
    try:
        yield
    finally:
        for _ in range(held):
            slots.release()


@pytest.mark.django_db(transaction=True)
def test_ten_correct_sign_ins_in_flight_from_one_address_all_go_through(settings: Any) -> None:
    """Even with the address's failed sign-ins limited to 3 a minute: none of the ten has
    failed, so none counts."""
    settings.COMMONROOM_MFA_REQUIRED = "none"
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "3/m/ip"}
    people = [UserFactory.create(email=f"arrival{n}@example.org") for n in range(PEOPLE)]
    answers: dict[str, Any] = {}
    sign_in, started = _signing_in("198.51.100.20", answers)
    threads = [threading.Thread(target=sign_in, args=(p.email,)) for p in people]
    with no_turn_to_hash():
        for thread in threads:
            thread.start()
        for _ in threads:
            assert started.acquire(timeout=10)
        time.sleep(1)  # each has reached its turn to hash, and waits there
        assert not answers, "a sign-in finished without its turn to hash"
    for thread in threads:
        thread.join(timeout=60)
    assert {email: page.status_code for email, page in answers.items()} == {
        p.email: 302 for p in people
    }


@pytest.mark.django_db(transaction=True)
def test_sign_ins_in_flight_past_the_bound_are_asked_to_try_again_and_the_bound_is_given_back(
    settings: Any,
) -> None:
    """With 3 allowed at once, 3 wait for their turn to hash and 2 more are answered at once,
    before their passwords are looked at; when the 3 have finished, the 2 get in."""
    settings.COMMONROOM_MFA_REQUIRED = "none"
    settings.COMMONROOM_SIGN_INS_AT_ONCE = 3
    # Two failures a minute from the address: had the two refusals counted as failures, the
    # two sign-ins after them would be refused.
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": "2/m/ip,5/5m/key",
    }
    address = "198.51.100.21"
    people = [UserFactory.create(email=f"crowd{n}@example.org") for n in range(5)]
    answers: dict[str, Any] = {}
    sign_in, started = _signing_in(address, answers)
    first = [threading.Thread(target=sign_in, args=(p.email,)) for p in people[:3]]
    with no_turn_to_hash():
        for thread in first:
            thread.start()
        for _ in first:
            assert started.acquire(timeout=10)
        counted = throttle.address_key(address)
        deadline = time.monotonic() + 10
        while cache.get(counted) != 3 and time.monotonic() < deadline:
            time.sleep(0.02)  # until the 3 have counted themselves in
        for later in people[3:]:
            sign_in(later.email)
        assert not any(answers.get(p.email) for p in people[:3])
        for later in people[3:]:
            refused = answers.pop(later.email)
            assert refused.status_code == 200
            assert TOO_MANY_AT_ONCE.encode() in refused.content
    for thread in first:
        thread.join(timeout=60)
    assert {p.email: answers[p.email].status_code for p in people[:3]} == {
        p.email: 302 for p in people[:3]
    }
    for later in people[3:]:  # the bound was given back, and the refusals counted as no failure
        sign_in(later.email)
        assert answers[later.email].status_code == 302
    assert AuditEvent.objects.filter(
        action="auth.login_failed", data__reason="address_busy"
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_a_sign_in_that_waits_too_long_for_a_turn_to_hash_is_answered_503(
    settings: Any,
) -> None:
    settings.COMMONROOM_MFA_REQUIRED = "none"
    settings.COMMONROOM_PASSWORD_HASH_WAIT_SECONDS = 1
    settings.COMMONROOM_SIGN_INS_AT_ONCE = 1
    # One attempt per account at a client: the next sign-in gets in only if the one that was
    # answered 503 counted against nothing.
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": "30/m/ip,1/5m/key",
    }
    person = UserFactory.create(email="patient@example.org")
    address = "198.51.100.22"
    with no_turn_to_hash():
        begun = time.monotonic()
        page = post_sign_in(person.email, address)
        waited = time.monotonic() - begun
    assert page.status_code == 503
    assert HASHING_BUSY_MESSAGE.encode() in page.content
    assert 1 <= waited < 10
    again = post_sign_in(person.email, address)
    assert again.status_code == 302  # its place in flight, and its count, were given back


@pytest.mark.django_db
def test_the_address_check_does_not_wait_on_allauths_lock_of_its_counter(settings: Any) -> None:
    """Checking the address's failures is a read: with allauth's lock on that counter held (by
    another sign-in of the crowd recording its failure), a correct password still gets in at
    once, where allauth's own check would wait a second and then refuse it."""
    from allauth.core.internal import ratelimit
    from django.test import RequestFactory

    settings.COMMONROOM_MFA_REQUIRED = "none"
    person = UserFactory.create(email="crowded@example.org")
    address = "198.51.100.23"
    asked = RequestFactory().post("/", REMOTE_ADDR=address)
    (rate,) = ratelimit.get_rates(
        app="allauth.account",
        action="login_failed",
        config={"login_failed": settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",")[0]},
    )
    counter = ratelimit.get_cache_key(
        asked, app="allauth.account", action="login_failed", rate=rate
    )
    assert cache.add(f"{counter}:lock", True, timeout=30)
    try:
        began = time.monotonic()
        page = post_sign_in(person.email, address)
        took = time.monotonic() - began
    finally:
        cache.delete(f"{counter}:lock")
    assert page.status_code == 302, page.content[:2000]
    assert took < 1


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
    refused = post_sign_in(person.email, address)
    assert refused.status_code == 200
    assert b"Too many failed sign-ins from here" in refused.content
    elsewhere = Client().post(
        reverse("account_login"),
        {"login": person.email, "password": PASSWORD},
        REMOTE_ADDR="198.51.100.31",
    )
    assert elsewhere.status_code == 302  # the owner, from another address, is not held up
