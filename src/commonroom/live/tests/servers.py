"""Real ASGI servers for tests that need websockets end to end: uvicorn in a thread of the test
process (same in-memory channel layer, same test database), or in separate processes pointed at
the test database (to show what crosses processes)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn
from django.conf import settings
from django.db import connection


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_database_url() -> str:
    """DATABASE_URL of the database this test run is using (the test database)."""
    db: dict[str, Any] = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server at {url} did not start")
        time.sleep(0.1)


class AsgiTestServer:
    """This process's ASGI application served by uvicorn in a thread on a loopback port, which
    stays the same across :meth:`stop` and :meth:`start` (to test reconnecting)."""

    def __init__(self) -> None:
        self.port = free_port()
        # "localhost", not the address: passkeys need a domain name as their relying party.
        self.url = f"http://localhost:{self.port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        from commonroom.asgi import application

        config = uvicorn.Config(
            application, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)
        self.thread.start()
        wait_until_up(self.url)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
        self.server = self.thread = None


@contextmanager
def uvicorn_process(**env: str) -> Iterator[str]:
    """``commonroom.asgi`` in a new uvicorn process on the test database, with ``env`` added;
    yields its base URL."""
    port = free_port()
    full_env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "COMMONROOM_DATA_DIR": str(settings.DATA_DIR),
        "DJANGO_SETTINGS_MODULE": "commonroom.settings",
        **env,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "commonroom.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=full_env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
