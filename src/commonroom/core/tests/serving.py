"""``commonroom serve`` as a real process for tests: on the test database and a free loopback
port, its output kept in a log beside the test, killed with everything it started at the end;
the shared Redis server that tests of several processes use; a browser signing in by form."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings

from commonroom.core.tests.processes import alive, descendants
from commonroom.live.tests import servers

# A Redis database of these tests' own by default (the live tests use 0); the keys of each test
# carry a prefix of their own too, so parallel runs never see each other's.
REDIS_URL = os.environ.get("COMMONROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class SharedRedis:
    url: str
    prefix: str

    @property
    def env(self) -> dict[str, str]:
        return {"REDIS_URL": self.url, "COMMONROOM_CHANNEL_PREFIX": self.prefix}

    def stored(self) -> list[str]:
        client = redis.Redis.from_url(self.url)
        return [k.decode() for k in client.scan_iter(f"{self.prefix}:*")]

    def forget(self) -> None:
        """Delete this test's keys (never FLUSHDB: the server is shared)."""
        client = redis.Redis.from_url(self.url)
        for key in client.scan_iter(f"{self.prefix}:*"):
            client.delete(key)


def shared_redis() -> SharedRedis:
    """Redis runs beside the database on development machines and in CI; if it is truly absent
    the test is skipped with a loud reason, and with CI=true that is a failure."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = (
            f"!!! Redis is not answering at {REDIS_URL} ({exc}): multi-process test SKIPPED !!!"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: a missing Redis is a failure. {message}")
        pytest.skip(message)
    return SharedRedis(REDIS_URL, f"test-{uuid.uuid4().hex}")


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")


def serve_env(tmp_path: Path, **env: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": servers.test_database_url(),
        "COMMONROOM_DATA_DIR": str(settings.DATA_DIR),
        "COMMONROOM_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "LOG_LEVEL": "WARNING",
        "TMPDIR": str(tmp_path),  # its sweep of the system's temp folder stays in the test's
        **env,
    }


def _start(tmp_path: Path, name: str, args: tuple[str, ...], env: dict[str, str]) -> Served:
    port = servers.free_port()
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "commonroom", "serve", "--port", str(port), *args],
            env=serve_env(tmp_path, **env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Served(process, f"http://127.0.0.1:{port}", log)


def _end(served: Served, name: str) -> None:
    everything = descendants(served.process.pid)
    if served.process.poll() is None:
        served.process.kill()
        served.process.wait()
    for pid in everything:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    print(f"--- {name} ---\n{served.output[-5000:]}")


@contextmanager
def serving_many(tmp_path: Path, count: int, *args: str, **env: str) -> Iterator[list[Served]]:
    """``count`` processes of ``commonroom serve *args`` with ``env``, started at the same moment,
    each up and answering; killed (with their workers and uvicorn's processes) at the end
    whatever happened, their output printed (shown on failure)."""
    started: list[Served] = []
    try:
        for n in range(count):
            started.append(_start(tmp_path, f"serve-{n + 1}", args, env))
        for served in started:
            servers.wait_until_up(served.url, timeout=60)
        yield started
    finally:
        for n, served in enumerate(started):
            _end(served, f"serve-{n + 1}")


@contextmanager
def serving(tmp_path: Path, *args: str, **env: str) -> Iterator[Served]:
    with serving_many(tmp_path, 1, *args, **env) as (served,):
        yield served


def stop(served: Served, timeout: float = 60) -> int:
    """SIGTERM, as a service manager stops it; its exit code."""
    served.process.send_signal(signal.SIGTERM)
    return served.process.wait(timeout=timeout)


TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser:
    """One person's browser on one server: cookies kept, CSRF token sent back. Closed (its
    connections) on leaving a ``with`` block."""

    def __init__(
        self, url: str, *, forwarded_for: str | None = None, local_address: str | None = None
    ) -> None:
        """``forwarded_for``: the X-Forwarded-For every request carries (as a reverse proxy
        would add it); ``local_address``: the loopback address the connections come from."""
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        self.http = httpx.Client(
            base_url=url,
            timeout=30,
            headers=headers,
            transport=httpx.HTTPTransport(local_address=local_address),
        )

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def post_form(self, path: str, data: dict[str, str]) -> httpx.Response:
        page = self.http.get(path)
        assert page.status_code == 200, (path, page.status_code)
        found = TOKEN.search(page.text)
        assert found, f"no CSRF token on {path}"
        return self.http.post(path, data={"csrfmiddlewaretoken": found.group(1), **data})

    def sign_in(self, email: str, password: str) -> httpx.Response:
        return self.post_form("/accounts/login/", {"login": email, "password": password})

    def signed_in(self) -> bool:
        return self.http.get("/").status_code == 200
