"""Fixtures of the live tests: the Redis server that tests of several server processes share."""

from __future__ import annotations

import os

import pytest
import redis

REDIS_URL = os.environ.get("COMMONROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    """Redis runs beside the database on development machines and in CI; if it is truly absent
    the test is skipped with a loud reason, and with CI=true that is a failure."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"!!! Redis is not answering at {REDIS_URL} ({exc}): two-process test SKIPPED !!!"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: a missing Redis is a failure. {message}")
        pytest.skip(message)
    return REDIS_URL
