"""Django's PostgreSQL backend as the processes that serve use it, their connections lent by
psycopg's pool (``settings.DB_POOL_SIZE``, decision 38), with one change: a transaction whose
connection the server ended fails at once, instead of waiting for the server to come back.

When a transaction's rollback fails (the server ended the session: a restart, a failover),
Django's ``Atomic`` drops the connection and then sets autocommit on again, which first opens a
new connection. Without a pool that fails at once; from a pool it waits for a connection, up to
the pool's timeout (30 s), while the server is away: the request's 503 (core.middleware) came
only when the server was back, or 30 s later. A connection is always opened in the configured
autocommit mode (``connect`` sets it), so while none is open, asking for that mode opens
nothing here; the next query opens one as before."""

from __future__ import annotations

from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLDatabaseWrapper


class DatabaseWrapper(PostgreSQLDatabaseWrapper):
    def set_autocommit(
        self, autocommit: bool, force_begin_transaction_with_broken_autocommit: bool = False
    ) -> None:
        if (
            self.connection is None
            and not self.in_atomic_block
            and autocommit == self.settings_dict["AUTOCOMMIT"]
        ):
            return  # the connection was dropped: the next one is opened in this mode
        super().set_autocommit(autocommit, force_begin_transaction_with_broken_autocommit)
