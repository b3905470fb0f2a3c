"""The signed-in person each request names (``request.user``), read with SQL built once per
process (``core.prepared``, decision 41).

Django's ``AuthenticationMiddleware`` finds the person through ``auth.get_user``: the backend
whose path the session stores, then its ``get_user``, which reads the person's row through the
ORM (``User.objects.get(pk=...)``), about a third of a millisecond of every signed-in page.
:func:`session_user` is that function, step for step, with one difference: when the session's
backend reads the person as Django's ``ModelBackend`` does (its own ``get_user``, as allauth's
backend inherits it), the row is read with prepared SQL, every column, and the backend's own
``user_can_authenticate`` still decides (an inactive person is nobody). Any other backend is
asked as Django asks it.

What stays Django's: the backends (``settings.AUTHENTICATION_BACKENDS``, unchanged: sessions
made before keep naming them, and signing in is theirs), the session's backend checked to be one
of them, and the session's hash checked against the person's password (a password changed
elsewhere signs the session out; a hash made under a fallback secret is renewed). Nothing is
kept: every request reads the row as it is, so a person made inactive or whose password changed
in any process is signed out on their next request. ``accounts/tests/test_signed_in.py`` holds
it to ``auth.get_user`` in each of these cases."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.db.models import BigIntegerField, Field, QuerySet
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string

from commonroom.core.prepared import Prepared, columns_of, instances_from

if TYPE_CHECKING:
    from django.http import HttpRequest

    from commonroom.accounts.models import User


def _person(*, pk: int) -> QuerySet[Any, Any]:
    """The person of that id, every column: what ``ModelBackend.get_user`` reads."""
    model = get_user_model()
    return model._default_manager.filter(pk=pk).order_by("pk").values_list(*columns_of(model))


# Asked by every signed-in request: its SQL built once per process.
_PERSON = Prepared("accounts.signed_in", _person, pk=BigIntegerField())


@functools.cache
def _backend_class(path: str) -> type[Any]:
    return cast("type[Any]", import_string(path))


def _read_as_model_backend(backend: Any) -> bool:
    """Whether ``backend`` reads the person as Django's ``ModelBackend`` does."""
    return isinstance(backend, ModelBackend) and type(backend).get_user is ModelBackend.get_user


def person_of(backend: Any, user_id: Any) -> User | None:
    """What ``backend.get_user(user_id)`` answers: the person of that id if the backend lets
    them in, else None; read with prepared SQL for a backend that reads as ``ModelBackend``."""
    if not _read_as_model_backend(backend):
        return cast("User | None", backend.get_user(user_id))
    model = get_user_model()
    if isinstance(user_id, int) and not -(2**63) <= user_id < 2**63:
        return None  # no row has it: the ORM's integer lookup matches none (no overflow)
    found = _PERSON.tuples(pk=user_id)
    if not found:
        return None
    user = cast("User", instances_from(found[0], model)[0])
    return user if backend.user_can_authenticate(user) else None


def session_user(request: HttpRequest) -> Any:
    """``django.contrib.auth.get_user``, the person read by :func:`person_of`: the session's
    person, or ``AnonymousUser`` (no session, a backend no longer configured, nobody of that
    id, inactive, or the session's hash no longer the password's, which ends the session)."""
    user: Any = None
    try:
        # The id as the session holds it, as Django's ``_get_user_session_key`` reads it.
        pk = cast("Field[Any, Any]", get_user_model()._meta.pk)
        user_id = pk.to_python(request.session[SESSION_KEY])
        backend_path = request.session[BACKEND_SESSION_KEY]
    except KeyError:
        pass
    else:
        if backend_path in settings.AUTHENTICATION_BACKENDS:
            backend = _backend_class(backend_path)()
            user = person_of(backend, user_id)
            # The session checked against the person's password, as Django checks it.
            if hasattr(user, "get_session_auth_hash"):
                session_hash = request.session.get(HASH_SESSION_KEY)
                session_auth_hash = user.get_session_auth_hash()
                if not session_hash or not constant_time_compare(session_hash, session_auth_hash):
                    # Made under a fallback secret: renewed under the current one.
                    if session_hash and any(
                        constant_time_compare(session_hash, fallback)
                        for fallback in user.get_session_auth_fallback_hash()
                    ):
                        request.session.cycle_key()
                        request.session[HASH_SESSION_KEY] = session_auth_hash
                    else:
                        request.session.flush()
                        user = None
    return user or AnonymousUser()
