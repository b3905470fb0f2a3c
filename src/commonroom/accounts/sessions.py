"""The session engine (``settings.SESSION_ENGINE``): Django's database sessions, the request's
own session read with SQL built once per process (``core.prepared``, decision 41).

Every signed-in request reads its session before anything else (``SessionMiddleware``, then the
person from it); Django's store builds that query through the ORM each time, about half a
millisecond of every page. This store reads the same row, the same way (its key, not expired
now), and makes the same ``Session`` object from it; writing, creating, ending and clearing
sessions are Django's, unchanged. Nothing of a session is kept: each request reads the table as
it is, so a session ended by any process (signing out everywhere, expiry) is ended for the next
request."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db.models import CharField, DateTimeField, QuerySet
from django.utils import timezone

from commonroom.core.prepared import Prepared, columns_of, instances_from

if TYPE_CHECKING:
    from django.contrib.sessions.base_session import AbstractBaseSession


def _live_session(*, session_key: str, now: datetime) -> QuerySet[AbstractBaseSession, Any]:
    """The session of that key if it has not expired at ``now``: every column, as the ORM's
    ``get`` in Django's store reads it."""
    model = DatabaseSessionStore.get_model_class()
    return (
        model.objects.filter(session_key=session_key, expire_date__gt=now)
        .order_by("pk")
        .values_list(*columns_of(model))
    )


# Asked by every request that carries a session cookie: its SQL built once per process.
_LIVE_SESSION = Prepared(
    "accounts.live_session", _live_session, session_key=CharField(), now=DateTimeField()
)


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> AbstractBaseSession | None:
        """What Django's store reads (the row of this key that has not expired, or None, the
        key then forgotten), with SQL built once per process."""
        found = _LIVE_SESSION.tuples(session_key=self.session_key, now=timezone.now())
        if not found:
            self._session_key = None
            return None
        return cast("AbstractBaseSession", instances_from(found[0], self.model)[0])
