"""Django's SQLite backend, with the connections a serving process closes kept for its next
requests (decision 36).

Under ASGI each request runs in a thread of its own, so Django opens a connection for it and,
with ``CONN_MAX_AGE=0``, closes it at the end; persistent connections would leak one per thread.
Opening an SQLite connection is cheap, but its first statement reads and parses the whole schema
(some 280 tables and indexes here): about a millisecond of CPU, and more waiting on a busy disk,
on every request. Here, once :func:`pool_connections` is called (``asgi.py``, so only in
processes that serve), closing hands the connection back to a small pool instead, and the next
request of any thread takes it up: its schema parsed, its pragmas set.

Every cursor's statement is also turned from Django's ``%s`` style into SQLite's ``?`` once per
SQL text (:class:`CursorWrapper`), not by a regular expression on every run: most of a
request's statements are the same few texts again (``core.prepared``'s, built once).

A connection goes back only in a clean state: not inside an atomic block, no error seen, its
transaction (if any) rolled back. It is taken up only by this process (the pool is emptied in a
child after ``fork``) and only while the database file is the same file (same device and inode:
a database replaced underneath, as a restore does, is opened afresh). Django's ``connect`` sets
autocommit and the connection's state again on every take, as for a new connection.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections.abc import Mapping
from typing import Any, cast

from django.db.backends.sqlite3 import base

_lock = threading.Lock()
_idle: dict[str, list[tuple[tuple[int, int], sqlite3.Connection]]] = {}
_size = 0  # how many idle connections a database may keep; 0: pooling off (the default)


def pool_connections(size: int = 4) -> None:
    """From now on, keep up to ``size`` idle connections to each SQLite database."""
    global _size
    _size = size


def idle_count(name: str) -> int:
    with _lock:
        return len(_idle.get(name, []))


def _file_id(name: str) -> tuple[int, int] | None:
    try:
        found = os.stat(name)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


def _forget_after_fork() -> None:
    # A child must never use its parent's SQLite handles (SQLite's own rule); it leaves them
    # open rather than closing what the parent still uses.
    _idle.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def _take(name: str) -> sqlite3.Connection | None:
    here = _file_id(name)
    stale: list[sqlite3.Connection] = []
    taken = None
    with _lock:
        idle = _idle.get(name, [])
        while idle:
            file_id, conn = idle.pop()
            if file_id == here:
                taken = conn
                break
            stale.append(conn)
    for conn in stale:
        conn.close()
    return taken


def _give(name: str, conn: sqlite3.Connection) -> bool:
    file_id = _file_id(name)
    if file_id is None:
        return False
    with _lock:
        idle = _idle.setdefault(name, [])
        if len(idle) >= _size:
            return False
        idle.append((file_id, conn))
    return True


# How many SQL texts' conversions are kept (the least recently used goes first): the texts
# asked again and again are a few dozen; an ORM query with a list of any length is one text
# per length.
CONVERTED_KEPT = 512


@functools.lru_cache(maxsize=CONVERTED_KEPT)
def _qmark(query: str) -> str:
    """``query`` in SQLite's ``?`` style: what Django's cursor makes of a statement given its
    parameters as a sequence (``SQLiteCursorWrapper.convert_query``), a function of the text
    alone."""
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class CursorWrapper(base.SQLiteCursorWrapper):
    """Django's SQLite cursor, each statement's text converted once (:func:`_qmark`)."""

    def execute(self, query: str, params: Any = None) -> Any:
        if params is None or isinstance(params, Mapping):
            return super().execute(query, cast(Any, params))
        return sqlite3.Cursor.execute(self, _qmark(query), params)


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name: str | None = None) -> CursorWrapper:
        cursor: CursorWrapper = self.connection.cursor(factory=CursorWrapper)
        return cursor

    def _pooled_name(self) -> str | None:
        if _size <= 0 or self.is_in_memory_db():
            return None
        return str(self.settings_dict["NAME"])

    def get_new_connection(self, conn_params: dict[str, Any]) -> sqlite3.Connection:
        name = self._pooled_name()
        if name is not None and (pooled := _take(name)) is not None:
            return pooled
        opened: sqlite3.Connection = super().get_new_connection(conn_params)
        return opened

    def _close(self) -> None:
        name = self._pooled_name()
        conn = self.connection
        if name is None or conn is None or self.in_atomic_block or self.errors_occurred:
            super()._close()  # type: ignore[misc]  # not in the stubs
            return
        try:
            if conn.in_transaction:
                conn.rollback()
        except sqlite3.Error:
            super()._close()  # type: ignore[misc]  # not in the stubs
            return
        if not _give(name, conn):
            super()._close()  # type: ignore[misc]  # not in the stubs
