"""SQLite's durability and its write-ahead log under a server that opens and closes a
connection per request (``core.wal_keeper``, settings.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from django.db.backends.sqlite3.base import DatabaseWrapper

from commonroom.core.wal_keeper import keep_wal_open, kept_databases

sqlite_only = pytest.mark.skipif(
    connections["default"].vendor != "sqlite", reason="SQLite's write-ahead log"
)


def _request_connection(path: Path) -> DatabaseWrapper:
    """A connection to ``path`` made as Django makes each request's (the same options)."""
    settings_dict = {**connections["default"].settings_dict, "NAME": str(path)}
    return DatabaseWrapper(settings_dict, alias=f"wal-{path.stem}")


def _write_and_close(wrapper: DatabaseWrapper) -> None:
    with wrapper.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        cursor.execute("INSERT INTO t VALUES (1)")
    wrapper.close()


@sqlite_only
def test_closing_a_request_connection_leaves_the_log_to_its_automatic_checkpoint(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    keep_wal_open()
    path = tmp_path / "kept.sqlite3"
    with django_db_blocker.unblock():  # a database of this test's own, not the test database
        _write_and_close(_request_connection(path))
        _write_and_close(_request_connection(path))
    assert str(path) in kept_databases()
    # Not the last connection: SQLite neither copied the log into the database nor removed it.
    assert Path(f"{path}-wal").stat().st_size > 0
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (2,)
    reader.close()


@sqlite_only
def test_without_the_kept_connection_each_close_copies_and_removes_the_log(
    tmp_path: Path,
) -> None:
    """What the kept connection saves (and the proof the test above can fail): a file no
    process keeps open has its log checkpointed, fsynced and deleted at every close."""
    path = tmp_path / "alone.sqlite3"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("CREATE TABLE t (x INTEGER)")
    raw.execute("INSERT INTO t VALUES (1)")
    raw.close()
    assert not Path(f"{path}-wal").exists()


@sqlite_only
@pytest.mark.django_db
def test_every_sqlite_commit_is_fsynced_to_the_log(settings: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 2  # FULL: the log is fsynced at each commit
