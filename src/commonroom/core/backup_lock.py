"""The lock that keeps the collector (``commonroom gc``) from deleting files while a backup runs.

A backup copies the database first, then the blob files that copy refers to. A version purged
after the copy was taken is still in the copy, so its blob must not be deleted before the backup
has copied it. The backup therefore holds this lock *shared* from before its database copy until
its last file is copied, and the collector takes it *exclusive, without waiting* inside its
transaction: while a backup runs the collector removes nothing (it says so and the next run does
the work), and a backup that starts while the collector runs waits for it to commit, so its copy
never names a file the collector is deleting.

What must always hold: the lock is released when its holder's process ends, however it ends
(kill -9 included), so a crashed backup never stops the collector for good. Hence the kernel and
database locks below rather than a row with an expiry:

- PostgreSQL: an advisory lock (per database): the backup's session-level and shared, released
  with its session; the collector's transaction-level, released when its transaction ends;
- SQLite: ``flock`` on a file beside the database (``<database>.backup-lock``); SQLite means one
  machine, so every process using the database sees it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from typing import Any

from django.db import connection

# An arbitrary, fixed advisory lock key: "commonroom backup" in ASCII, folded into 63 bits.
ADVISORY_KEY = int.from_bytes(b"crbackup", "big") & 0x7FFF_FFFF_FFFF_FFFF


def sqlite_lock_path(database_name: str | os.PathLike[str]) -> str:
    return f"{os.fspath(database_name)}.backup-lock"


@contextlib.contextmanager
def sqlite_backup_hold(database_name: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the SQLite backup lock shared (waiting for a collector that is running)."""
    fd = os.open(sqlite_lock_path(database_name), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def postgres_backup_hold(pg_connection: Any) -> None:
    """Take the PostgreSQL backup lock shared on ``pg_connection`` (a psycopg connection the
    backup keeps open until it has copied its last file; closing it releases the lock)."""
    pg_connection.execute("SELECT pg_advisory_lock_shared(%s)", (ADVISORY_KEY,))


@contextlib.contextmanager
def collector_turn() -> Iterator[bool]:
    """Yields True when no backup is running, holding the lock exclusive; False while a backup
    holds it. Enter it just inside the collector's transaction (work done outside a transaction
    is covered for the whole block too): on PostgreSQL the lock is then
    held to the end of that transaction (the outermost one, if it is nested); on SQLite until the
    block ends, while the transaction still holds SQLite's write lock, so a backup that starts
    in between reads the state from before the collector's changes, in which the blobs it is
    removing were already unreferenced."""
    if connection.vendor == "postgresql":
        # In a transaction, until it ends; outside one (autocommit, where a transaction-level
        # lock would end with its own statement), session-level until the block ends.
        in_transaction = connection.in_atomic_block
        kind = "xact_lock" if in_transaction else "lock"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT pg_try_advisory_{kind}(%s)", [ADVISORY_KEY])
            row = cursor.fetchone()
        got = bool(row and row[0])
        try:
            yield got
        finally:
            if got and not in_transaction:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_KEY])
        return
    if connection.vendor == "sqlite":
        fd = os.open(
            sqlite_lock_path(connection.settings_dict["NAME"]), os.O_RDWR | os.O_CREAT, 0o600
        )
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)
        return
    yield True  # another database: no backup command for it, so nothing to wait for
