"""One idle connection to the SQLite database, held open for the life of each serving process,
so that the connection a request opens and closes (``DB_CONN_MAX_AGE=0``) is never the
database's last.

When the last connection to an SQLite database in WAL mode closes, SQLite copies the
write-ahead log into the database, fsyncs both and deletes the log; the next write makes a new
one. On a server answering one request at a time that was every request, twice (the guard's
connection, then the view's): some 10 to 25 ms of waiting on the disk each time, more than the
rest of a small upload. With this connection open the log is copied when it reaches SQLite's
automatic checkpoint (1,000 pages), as it already was whenever two requests overlapped.
Durability never rested on that copy and does not now: every commit is fsynced to the log
before it returns (``PRAGMA synchronous=FULL``, settings.py).

Must always hold: the kept connection never holds a transaction open (it runs one statement,
when it is made, and reads nothing after), so it never holds a checkpoint back.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from django.db.backends.signals import connection_created

_kept: dict[str, sqlite3.Connection] = {}
_lock = threading.Lock()


def _keep(sender: Any, connection: Any, **kwargs: Any) -> None:
    """On this process's first connection to an SQLite file, open one more and keep it."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        return
    name = str(connection.settings_dict["NAME"])
    with _lock:
        if name in _kept:
            return
        kept = sqlite3.connect(name, timeout=30, check_same_thread=False)
        # Opening is lazy: one read opens the database, its log and the log's index.
        kept.execute("SELECT count(*) FROM sqlite_master").fetchall()
        _kept[name] = kept


def keep_wal_open() -> None:
    """From now on, keep one idle connection to each SQLite database this process uses."""
    connection_created.connect(_keep, dispatch_uid="commonroom.core.wal_keeper")


def kept_databases() -> list[str]:
    """The SQLite files this process holds a connection to."""
    with _lock:
        return list(_kept)
