"""Fixtures for this app's tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from commonroom.accounts.tests.hashers import TEST_PASSWORD_HASHERS


@pytest.fixture(autouse=True)
def _fast_test_settings(settings: Any) -> None:
    """Real Argon2 hashes at the cheapest parameters; static files looked up when asked for,
    not indexed each time a test client starts."""
    settings.PASSWORD_HASHERS = TEST_PASSWORD_HASHERS
    settings.WHITENOISE_AUTOREFRESH = True


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Rate-limit counters and used one-time codes live in the cache: start each test clean."""
    cache.clear()
    yield
    cache.clear()
