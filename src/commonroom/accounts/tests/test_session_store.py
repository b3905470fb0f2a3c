"""The session engine reads each request's session with SQL built once per process: the same
row as Django's own store, after sessions are written, changed, expired and removed straight
through the ORM, as another process does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from commonroom.accounts.sessions import SessionStore

pytestmark = pytest.mark.django_db


def _both(key: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    return SessionStore(session_key=key).load(), DjangoStore(session_key=key).load()


def test_it_is_the_engine() -> None:
    assert settings.SESSION_ENGINE == "commonroom.accounts.sessions"


def test_a_session_reads_as_djangos_store_reads_it_after_each_write() -> None:
    store = SessionStore()
    store["who"] = "tom"
    store.create()
    key = store.session_key
    assert key is not None
    mine, django = _both(key)
    assert mine == django == {"who": "tom"}
    found = SessionStore(session_key=key)._get_session_from_db()
    expected = Session.objects.get(pk=key)
    assert found is not None and not found._state.adding
    assert (found.session_key, found.session_data, found.expire_date) == (
        expected.session_key,
        expected.session_data,
        expected.expire_date,
    )
    # Changed by another process: read as it is now.
    other = DjangoStore(session_key=key)
    other["who"] = "sam"
    other.save()
    assert _both(key) == ({"who": "sam"}, {"who": "sam"})
    # Expired in the table: nothing, and the key forgotten, as Django's store does.
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    expired = SessionStore(session_key=key)
    assert expired.load() == {} and expired.session_key is None
    assert DjangoStore(session_key=key).load() == {}
    # Alive again, then removed (signed out everywhere): nothing.
    Session.objects.filter(pk=key).update(expire_date=timezone.now() + timedelta(hours=1))
    assert _both(key) == ({"who": "sam"}, {"who": "sam"})
    Session.objects.filter(pk=key).delete()
    assert _both(key) == ({}, {})


def test_no_key_or_a_key_that_names_no_session_reads_nothing() -> None:
    assert _both(None) == ({}, {})
    assert _both("short") == ({}, {})  # not a valid key: never asked for
    assert _both("x" * 32) == ({}, {})
