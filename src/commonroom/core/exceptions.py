"""The one application error type, translated once at each boundary.

Services raise :class:`ApplicationError` subclasses; the HTML middleware, the JSON API and (later)
websockets and WebDAV each map ``status`` and ``code`` to their own form of error. Nothing below a
boundary builds an HTTP response for an error.
"""

from __future__ import annotations

import errno
import sqlite3


class ApplicationError(Exception):
    """A failure the user can understand: ``message`` is shown to them as it is."""

    status: int = 400
    code: str = "invalid"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


# What every 404 says, pages (templates/404.html, error.html) and API alike, unless a service
# has something more useful to say (an invitation link cut short, a deleted comment).
NOT_FOUND_MESSAGE = "This page does not exist, or you do not have access to it."


class NotFound(ApplicationError):
    """The thing does not exist *or the actor may not know it exists*: both look the same."""

    status = 404
    code = "not_found"

    def __init__(self, message: str = NOT_FOUND_MESSAGE, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class PermissionDenied(ApplicationError):
    """The actor can see the thing but may not do this to it."""

    status = 403
    code = "permission_denied"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"


class Gone(ApplicationError):
    status = 410
    code = "gone"


class TooLarge(ApplicationError):
    status = 413
    code = "too_large"


class BodyIncomplete(ApplicationError):
    """The request ended before all of its body arrived (the client went, or the guard in front
    cut it off): nothing was saved, and the answer is never sent (``core.asgi_body``)."""

    status = 400
    code = "body_incomplete"

    def __init__(
        self,
        message: str = "The request ended before all of it arrived. Nothing was saved.",
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


STORAGE_FULL_MESSAGE = "The server's storage is full. Nothing was saved."


class StorageFull(ApplicationError):
    """The data disk (or the database's) has no room left: 507, and nothing was saved."""

    status = 507
    code = "storage_full"

    def __init__(self, message: str = STORAGE_FULL_MESSAGE, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


STORAGE_UNAVAILABLE_MESSAGE = "The file store cannot be reached just now. Try again in a minute."
UPLOAD_STORE_UNAVAILABLE_MESSAGE = (
    "The file store cannot be reached just now, so nothing was saved. Try again in a minute."
)


class StorageUnavailable(ApplicationError):
    """The object store (S3) did not answer, or answered with its own failure: 503 with a
    sentence, never a stack trace. An upload that meets it has saved nothing."""

    status = 503
    code = "storage_unavailable"

    def __init__(self, message: str = STORAGE_UNAVAILABLE_MESSAGE, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


DATABASE_UNAVAILABLE_MESSAGE = (
    "The database cannot be reached just now. "
    "Try again in a minute, and check first whether what you sent was saved."
)


class DatabaseUnavailable(ApplicationError):
    """PostgreSQL went away (restarted, stopped, out of reach) during the request, or no
    connection to it could be had: 503 with a sentence, never a stack trace. A write in flight
    is committed whole or not at all (its transaction), but its commit may have been made
    before the answer failed, so the person is told to look before sending it again."""

    status = 503
    code = "database_unavailable"

    def __init__(self, message: str = DATABASE_UNAVAILABLE_MESSAGE, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


# ENOSPC: the disk is full; EDQUOT: this user's quota on it is.
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# SQLite's SQLITE_FULL ("database or disk is full") and PostgreSQL's disk_full SQLSTATE.
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"


def storage_full_cause(exc: BaseException) -> BaseException | None:
    """The error in ``exc``'s chain (itself, its cause or context) that says the storage is
    full, or None. Django wraps database errors and Python wraps OSErrors in others, so the
    whole chain is looked at, a bounded number of links deep."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return current
        if getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL:
            return current
        if getattr(current, "sqlstate", None) == _PG_DISK_FULL:
            return current
        if "database or disk is full" in str(current):
            return current
        current = current.__cause__ or current.__context__
    return None


# PostgreSQL's SQLSTATEs that say the server is going or will not take connections yet:
# admin_shutdown (a fast stop or restart ends every session), crash_shutdown and
# cannot_connect_now (starting up or shutting down); class 08 is the connection's own failures.
_PG_GOING = frozenset({"57P01", "57P02", "57P03"})


def database_unavailable_cause(exc: BaseException) -> BaseException | None:
    """The error in ``exc``'s chain that says PostgreSQL cannot be reached (a connection
    refused or lost, the server shutting down, no connection from the pool in time), or None.
    Only psycopg's operational errors count: a deadlock, a statement cancelled or a full disk
    carry their own SQLSTATE and are not an outage. SQLite is a file, never away, but its one
    writer's lock not had within the busy timeout (30 s: the embedded server past what it can
    write) is answered the same way: nothing of that write was made (transactions take the
    lock as they begin), and the next may succeed."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is installed with Commonroom
        return None
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        if isinstance(current, sqlite3.OperationalError) and str(current) == "database is locked":
            return current
        if isinstance(current, psycopg.OperationalError):
            state = current.sqlstate
            if state is not None and (state.startswith("08") or state in _PG_GOING):
                return current
            if state is None and _connection_gone(current):
                return current
        # Django wraps the database's error with ``from``; an error raised while another was
        # being handled (``__context__``) is a fault of its own, not an outage.
        current = current.__cause__
    return None


def _connection_gone(error: BaseException) -> bool:
    """A psycopg error without a SQLSTATE is the client's own: an outage when it is the pool's
    (no connection in time, the pool closed), when its connection failed, or when this
    thread's connection is gone or broken since; not when the connection is still sound (a
    query psycopg refused to send, such as one with too many parameters)."""
    import psycopg_pool
    from django.db import connection

    if isinstance(error, psycopg_pool.PoolTimeout | psycopg_pool.PoolClosed):
        return True
    pgconn = getattr(error, "pgconn", None)
    if pgconn is not None and pgconn.status == 1:  # psycopg.pq.ConnStatus.BAD
        return True
    held = connection.connection
    return (
        held is None or bool(getattr(held, "closed", True)) or bool(getattr(held, "broken", False))
    )
