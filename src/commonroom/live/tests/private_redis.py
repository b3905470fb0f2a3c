"""A private redis-server on a free loopback port, for tests that stop and start Redis (the
machine's Redis on 6379 is shared, and must never be stopped by a test)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
import redis

from commonroom.live.tests.servers import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    """``start()`` and ``kill()`` any number of times; the port stays the same."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on {self.port}") from None
                time.sleep(0.05)

    def kill(self) -> None:
        """kill -9: Redis gone at once, as in a crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def private_redis_started(what: str) -> PrivateRedis:
    """A started private redis-server for the test ``what``. Without the redis-server program
    the test is skipped with a loud reason, and with CI=true that is a failure."""
    if not os.path.exists(REDIS_SERVER):
        message = f"!!! no redis-server at {REDIS_SERVER}: {what} SKIPPED !!!"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: a missing redis-server is a failure. {message}")
        pytest.skip(message)
    server = PrivateRedis()
    server.start()
    return server
