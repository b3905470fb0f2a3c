"""The sign-in forms sent from one address (``COMMONROOM_SIGNIN_ADDRESS_RATE``): a flood guard
counted without a lock. allauth's own limit kept each address's times in one cache entry behind
a lock and answered 429 when it could not take the lock within a second, so a crowd arriving
together behind one NAT address (the load benchmark) had a few correct sign-ins turned away."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.core.internal import ratelimit
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse

from commonroom.accounts import throttle
from commonroom.accounts.tests import test_sign_in
from commonroom.accounts.tests.factories import PASSWORD, UserFactory

ADDRESS = "198.51.100.30"


def sign_in(email: str, password: str = PASSWORD, address: str = ADDRESS) -> Any:
    return test_sign_in.sign_in(Client(), email, password, ip=address)


@pytest.fixture
def person(db: Any) -> Any:
    return UserFactory.create(email="amara@example.org")


def test_forms_past_the_rate_are_refused_429_before_the_password_is_looked_at(
    person: Any, settings: Any
) -> None:
    from commonroom.audit.models import AuditEvent

    settings.COMMONROOM_SIGNIN_ADDRESS_RATE = "3/m/ip"
    assert [sign_in(person.email).status_code for _ in range(3)] == [302, 302, 302]
    refused = sign_in(person.email, "wrong")
    assert refused.status_code == 429
    assert not AuditEvent.objects.filter(action="auth.login_failed").exists()
    # Another address is counted apart; the page itself is still shown to the first.
    assert sign_in(person.email, address="198.51.100.31").status_code == 302
    page = Client().get(reverse("account_login"), REMOTE_ADDR=ADDRESS)
    assert page.status_code == 200


def test_a_correct_sign_in_needs_no_lock(person: Any) -> None:
    """allauth's lock on the address's count for its "login" rate held by another process:
    the sign-in goes ahead (allauth's limit waited a second for it, then answered 429)."""
    request = RequestFactory().post("/", REMOTE_ADDR=ADDRESS)
    rate = ratelimit.parse_rate("600/m/ip")
    lock = ratelimit.get_cache_key(request, app="allauth.account", action="login", rate=rate)
    cache.set(f"{lock}:lock", True, timeout=60)
    answer = sign_in(person.email)
    assert answer.status_code == 302
    assert answer["Location"] == reverse("home")


def test_the_window_slides(settings: Any) -> None:
    """Three a minute: three at 10 s into a minute fill it; at 70 s, 5/6 of the last minute's
    count is still inside the sliding minute, so the next is refused; at 110 s only 1/6 is,
    and two more fit."""
    settings.COMMONROOM_SIGNIN_ADDRESS_RATE = "3/m/ip"
    start = 6_000_000 * 60.0
    assert all(throttle.address_sign_in_sent("a", now=start + 10) for _ in range(3))
    assert not throttle.address_sign_in_sent("a", now=start + 10)
    assert not throttle.address_sign_in_sent("a", now=start + 70)
    assert throttle.address_sign_in_sent("a", now=start + 110)
    assert throttle.address_sign_in_sent("a", now=start + 110)
    assert not throttle.address_sign_in_sent("a", now=start + 110)
    assert throttle.address_sign_in_sent("b", now=start + 110)
