"""Fixtures for this app's tests."""

from __future__ import annotations

from typing import Any

import pytest

from commonroom.accounts.tests.hashers import TEST_PASSWORD_HASHERS


@pytest.fixture(autouse=True)
def _fast_test_settings(settings: Any) -> None:
    """Real Argon2 hashes at the cheapest parameters; static files looked up when asked for,
    not indexed each time a test client starts."""
    settings.PASSWORD_HASHERS = TEST_PASSWORD_HASHERS
    settings.WHITENOISE_AUTOREFRESH = True
