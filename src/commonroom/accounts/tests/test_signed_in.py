"""The signed-in person is read with SQL built once per process (``accounts.signed_in``), and
found exactly as Django's ``auth.get_user`` finds them: sessions made under Django's and
allauth's backends, a person made inactive, removed or whose password changed straight through
the ORM (as another process does), a hash made under a fallback secret, a backend no longer
configured, a backend that reads the person its own way."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import (
    AuthenticationMiddleware as DjangoAuthenticationMiddleware,
)
from django.contrib.sessions.models import Session
from django.db import connection
from django.http import HttpRequest
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commonroom.accounts.middleware import AuthenticationMiddleware
from commonroom.accounts.models import User
from commonroom.accounts.sessions import SessionStore
from commonroom.accounts.signed_in import _PERSON, session_user
from commonroom.accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

DJANGO = "django.contrib.auth.backends.ModelBackend"
ALLAUTH = "allauth.account.auth_backends.AuthenticationBackend"
OWN = "commonroom.accounts.tests.test_signed_in.NamedByEmailBackend"


class NamedByEmailBackend(ModelBackend):
    """A backend that reads the person its own way (the session naming them by address)."""

    def get_user(self, user_id: Any) -> User | None:
        return User.objects.filter(email=f"own-{user_id}@example.org").first()


def _session(user: User, backend: str, *, user_id: Any = None) -> str:
    """A session as ``auth.login`` leaves it, its key."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk if user_id is None else user_id)
    store[BACKEND_SESSION_KEY] = backend
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    assert store.session_key is not None
    return store.session_key


def _request(key: str | None) -> HttpRequest:
    request = RequestFactory().get("/")
    request.session = SessionStore(session_key=key)
    return request


def _columns(user: Any) -> dict[str, Any] | None:
    if not user.is_authenticated:
        return None
    return {f.attname: getattr(user, f.attname) for f in User._meta.concrete_fields}


def _both(make: Any) -> tuple[Any, Any, HttpRequest, HttpRequest]:
    """The person each finds, on two sessions made alike (either may end its own)."""
    mine, django = _request(make()), _request(make())
    return session_user(mine), auth.get_user(django), mine, django


def test_it_is_the_middleware_in_djangos_place() -> None:
    assert issubclass(AuthenticationMiddleware, DjangoAuthenticationMiddleware)
    assert (
        settings.MIDDLEWARE.index("commonroom.accounts.middleware.AuthenticationMiddleware")
        == settings.MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware") + 3
    )
    # Signing in is still Django's and allauth's: the sessions made before still name them.
    assert settings.AUTHENTICATION_BACKENDS == [DJANGO, ALLAUTH]


@pytest.mark.parametrize("backend", [DJANGO, ALLAUTH])
def test_a_session_finds_the_person_as_django_finds_them(backend: str) -> None:
    tom = UserFactory.create(email="tom@example.org", full_name="Tom Hardy")
    mine, django, _, _ = _both(lambda: _session(tom, backend))
    assert mine.pk == django.pk == tom.pk
    assert _columns(mine) == _columns(django)
    assert not mine._state.adding and mine._state.db == django._state.db
    # Changed by another process: read as it is now.
    User.objects.filter(pk=tom.pk).update(full_name="Thomas Hardy", kind="guest")
    mine, django, _, _ = _both(lambda: _session(tom, backend))
    assert mine.full_name == "Thomas Hardy" and mine.kind == "guest"
    assert _columns(mine) == _columns(django)


@pytest.mark.parametrize("backend", [DJANGO, ALLAUTH])
def test_an_inactive_or_removed_person_is_nobody(backend: str) -> None:
    tom = UserFactory.create(email="tom@example.org")
    User.objects.filter(pk=tom.pk).update(is_active=False)
    mine, django, _, _ = _both(lambda: _session(tom, backend))
    assert not mine.is_authenticated and not django.is_authenticated
    User.objects.filter(pk=tom.pk).update(is_active=True)
    keys = [_session(tom, backend), _session(tom, backend)]
    User.objects.filter(pk=tom.pk).delete()
    assert not session_user(_request(keys[0])).is_authenticated
    assert not auth.get_user(_request(keys[1])).is_authenticated


def test_an_id_no_row_can_have_is_nobody_as_for_django() -> None:
    """Beyond the key's range (a session written by hand): nobody, not an overflow."""
    tom = UserFactory.create(email="tom@example.org")
    mine, django, _, _ = _both(lambda: _session(tom, DJANGO, user_id=2**70))
    assert not mine.is_authenticated and not django.is_authenticated


def test_a_password_changed_elsewhere_ends_the_session() -> None:
    tom = UserFactory.create(email="tom@example.org")
    keys = [_session(tom, DJANGO), _session(tom, DJANGO)]
    tom.set_password("another long passphrase")
    User.objects.filter(pk=tom.pk).update(password=tom.password)
    mine, django = session_user(_request(keys[0])), auth.get_user(_request(keys[1]))
    assert not mine.is_authenticated and not django.is_authenticated
    # Both ended, as Django ends it (flushed: its row gone).
    assert not Session.objects.filter(pk__in=keys).exists()


def test_a_session_with_no_hash_is_ended() -> None:
    tom = UserFactory.create(email="tom@example.org")

    def hashless() -> str:
        store = SessionStore(session_key=_session(tom, DJANGO))
        del store[HASH_SESSION_KEY]
        store.save()
        assert store.session_key is not None
        return store.session_key

    mine, django, mine_request, django_request = _both(hashless)
    assert not mine.is_authenticated and not django.is_authenticated
    assert mine_request.session.session_key is None and django_request.session.session_key is None


def test_a_hash_made_under_a_fallback_secret_is_renewed() -> None:
    tom = UserFactory.create(email="tom@example.org")
    keys = [_session(tom, DJANGO), _session(tom, DJANGO)]
    with override_settings(
        SECRET_KEY="a new secret " * 4, SECRET_KEY_FALLBACKS=[settings.SECRET_KEY]
    ):
        mine_request, django_request = _request(keys[0]), _request(keys[1])
        mine, django = session_user(mine_request), auth.get_user(django_request)
        assert mine.pk == django.pk == tom.pk
        for request, old in ((mine_request, keys[0]), (django_request, keys[1])):
            assert request.session.session_key != old  # cycled
            assert request.session[HASH_SESSION_KEY] == tom.get_session_auth_hash()
    # Without the fallback, an old hash ends the session.
    with override_settings(SECRET_KEY="a new secret " * 4):
        mine, django, _, _ = _both(lambda: _session(tom, DJANGO))
        # (each session's hash made under the new secret verifies)
        assert mine.pk == django.pk == tom.pk
    key = _session(tom, DJANGO)
    with override_settings(SECRET_KEY="a new secret " * 4):
        assert not session_user(_request(key)).is_authenticated


def test_a_backend_no_longer_configured_or_no_session_is_nobody() -> None:
    tom = UserFactory.create(email="tom@example.org")
    mine, django, _, _ = _both(lambda: _session(tom, "commonroom.nowhere.Backend"))
    assert not mine.is_authenticated and not django.is_authenticated
    assert not session_user(_request(None)).is_authenticated
    assert not auth.get_user(_request(None)).is_authenticated


def test_a_backend_that_reads_its_own_way_is_asked() -> None:
    sam = UserFactory.create(email="own-7@example.org")
    with override_settings(AUTHENTICATION_BACKENDS=[DJANGO, OWN]):
        mine, django, _, _ = _both(lambda: _session(sam, OWN, user_id=7))
        assert mine.pk == django.pk == sam.pk


def test_pages_take_the_person_from_it_in_one_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    tom = UserFactory.create(email="tom@example.org")
    asked: list[dict[str, Any]] = []
    tuples = _PERSON.tuples

    def counted(**values: Any) -> list[tuple[Any, ...]]:
        asked.append(values)
        return tuples(**values)

    monkeypatch.setattr(_PERSON, "tuples", counted)
    client = Client()
    response = client.post(reverse("account_login"), {"login": tom.email, "password": PASSWORD})
    assert response.status_code == 302
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("home")).status_code == 200
    person_reads = [q for q in queries.captured_queries if 'FROM "accounts_user"' in q["sql"]]
    assert len(person_reads) == 1
    assert asked == [{"pk": tom.pk}]  # the prepared read, once
    # Made inactive by another process: signed out on the next page.
    User.objects.filter(pk=tom.pk).update(is_active=False)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
