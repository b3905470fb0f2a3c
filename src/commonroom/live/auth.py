"""Who is on the other end of a websocket.

- A browser page: its session cookie, as for pages, but only when the handshake's Origin is this
  site (another site's page must not open a socket with the visitor's cookie), and only once any
  required second factor is set up (as the pages require).
- A program: ``Authorization: Bearer <personal access token>``, as for the API (a guest's token
  once they are no longer allowed tokens is refused like a wrong one).
Anyone else is anonymous, and the consumer refuses anonymous sockets.

A signed-in socket's scope also holds its ``credential`` (``accounts.selectors.Credential``: the
token's id, or the session's key): the socket joins that credential's group, so revoking the
token or signing the session out closes it at once, and the hub checks it again with every read.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from commonroom.accounts.selectors import Credential, second_factor_missing, token_authenticate
from commonroom.core.exceptions import ApplicationError
from commonroom.core.request_info import scope_client_ip


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


def same_site(scope: dict[str, Any]) -> bool:
    origin = _header(scope, b"origin")
    if not origin:
        return False
    if origin in getattr(settings, "CSRF_TRUSTED_ORIGINS", []):
        return True
    return urlsplit(origin).netloc.lower() == _header(scope, b"host").lower()


def _token_user(token: str, ip: str) -> tuple[Any, Credential | None]:
    try:
        found = token_authenticate(token, ip=ip)
    except ApplicationError:  # a right token its owner may no longer use
        return AnonymousUser(), None
    if found is None:
        return AnonymousUser(), None
    return found.user, Credential(kind="token", key=str(found.pk), user_id=found.user_id)


def _session_credential(scope: dict[str, Any], user: Any) -> Credential | None:
    session = scope.get("session")
    key = getattr(session, "session_key", None)
    if not getattr(user, "is_authenticated", False) or not key:
        return None
    return Credential(kind="session", key=str(key), user_id=int(user.pk))


def _without_missing_factor(user: Any, session: Any) -> Any:
    if getattr(user, "is_authenticated", False) and second_factor_missing(user, session):
        return AnonymousUser()
    return user


class _SecondFactorGate:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        user = await database_sync_to_async(_without_missing_factor)(
            scope.get("user"), scope.get("session")
        )
        credential = _session_credential(scope, user)
        return await self.inner(dict(scope, user=user, credential=credential), receive, send)


class SocketAuth:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.session_stack = AuthMiddlewareStack(_SecondFactorGate(inner))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        authorization = _header(scope, b"authorization")
        if authorization[:7].lower() == "bearer ":
            user, credential = await database_sync_to_async(_token_user)(
                authorization[7:].strip(), scope_client_ip(scope)
            )
            return await self.inner(dict(scope, user=user, credential=credential), receive, send)
        if not same_site(scope):
            anonymous = dict(scope, user=AnonymousUser(), credential=None)
            return await self.inner(anonymous, receive, send)
        return await self.session_stack(scope, receive, send)
