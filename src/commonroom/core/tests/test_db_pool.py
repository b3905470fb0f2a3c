"""PostgreSQL connections from a pool in the processes that serve (``settings.DB_POOL_SIZE``,
set by ``cli.py`` for ``serve`` and ``worker`` and by ``asgi.py``): every other command, and
the tests' own process, opens a connection each time as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection

from commonroom import cli
from commonroom.accounts.models import TokenScope
from commonroom.accounts.services import token_create
from commonroom.core.tests.serving import serving

ELSEWHERE = "postgres://nobody@127.0.0.1:1/nothing"  # never connected to: settings only


def _database_settings(**env: str) -> dict[str, Any]:
    """The default database's settings as a new process with ``env`` reads them."""
    environ = {k: v for k, v in os.environ.items() if k not in ("DB_POOL_SIZE", "DB_CONN_MAX_AGE")}
    code = (
        "import json\n"
        "from django.conf import settings\n"
        "d = settings.DATABASES['default']\n"
        "print(json.dumps({'pool': d.get('OPTIONS', {}).get('pool'),"
        " 'checks': d.get('CONN_HEALTH_CHECKS')}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**environ, "DJANGO_SETTINGS_MODULE": "commonroom.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout))


def test_a_process_that_does_not_serve_has_no_pool() -> None:
    assert _database_settings(DATABASE_URL=ELSEWHERE)["pool"] is None


def test_a_pool_size_gives_a_pool_that_checks_what_it_lends() -> None:
    found = _database_settings(DATABASE_URL=ELSEWHERE, DB_POOL_SIZE="5")
    assert found == {"pool": {"min_size": 1, "max_size": 5, "timeout": 30}, "checks": True}


def test_persistent_connections_and_sqlite_have_no_pool() -> None:
    kept = _database_settings(DATABASE_URL=ELSEWHERE, DB_POOL_SIZE="5", DB_CONN_MAX_AGE="60")
    assert kept["pool"] is None
    assert _database_settings(DATABASE_URL="", DB_POOL_SIZE="5")["pool"] is None


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_the_worker_pool_by_default(command: str, monkeypatch: Any) -> None:
    monkeypatch.delenv("DB_POOL_SIZE", raising=False)
    ran: list[list[str]] = []
    monkeypatch.setattr("django.core.management.execute_from_command_line", ran.append)
    cli.main([command, "--help"])
    assert ran == [["commonroom", command, "--help"]]
    assert os.environ["DB_POOL_SIZE"] == str(cli.SERVING_POOL_SIZE)
    monkeypatch.delenv("DB_POOL_SIZE")
    cli.main(["migrate"])
    assert "DB_POOL_SIZE" not in os.environ
    monkeypatch.setenv("DB_POOL_SIZE", "0")  # said otherwise: kept
    cli.main([command])
    assert os.environ["DB_POOL_SIZE"] == "0"


def _sessions() -> int:
    """How many connections to this database were ever made (PostgreSQL counts each)."""
    time.sleep(1.5)  # a server process reports its session within a second, or as it exits
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's pool")
@pytest.mark.django_db(transaction=True)
def test_a_served_process_lends_the_same_connections_again(team: Any, tmp_path: Path) -> None:
    secret = token_create(actor=team.editor, name="pool", scope=TokenScope.WRITE).secret
    headers = {"Authorization": f"Bearer {secret}"}
    with serving(tmp_path, "--no-worker") as served, httpx.Client(headers=headers) as client:
        for _ in range(3):  # the pool's connections made
            assert client.get(f"{served.url}/api/v1/me").status_code == 200
        before = _sessions()
        for _ in range(20):
            assert client.get(f"{served.url}/api/v1/me").status_code == 200
        made = _sessions() - before
    # A connection per request would be 20 (and 40 for uploads: the guard's and the view's).
    assert made <= 1, f"{made} connections made for 20 requests"
