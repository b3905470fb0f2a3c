"""The WebDAV endpoint as a WSGI application: who is asking (``auth``), then WsgiDAV with
Commonroom's provider, its lock storage and its property storage in the database.

Per request, before WsgiDAV and before a byte of the body is read:

- no usable credentials (none, another scheme, or Office's empty ``Authorization: Bearer``):
  OPTIONS anywhere is answered the same way (``DAV: 1,2``, ``MS-Author-Via: DAV``: it reveals
  nothing), as Office asks before it sends credentials; Office's HEAD of ``/dav/`` is answered
  200 likewise; anything else is 401 with ``WWW-Authenticate: Basic realm="Commonroom"``;
- wrong credentials: 401 with a sentence; too many from one place: 429 (``auth``);
- a read-only token's change: 403.

A body's size, pace and number are decided before this runs, by the guard in front of the
whole application (``core.asgi_limits``, with :func:`body_limit` for a PUT's person).

Every response carries the headers that keep stored bytes from running in a browser
(``core.downloads``): ``nosniff``, a sandboxing CSP, same-origin only, no framing.

Django's database connections are looked after as Django's own handlers do (the
``request_started`` and ``request_finished`` signals), since this runs in a2wsgi's threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.core import signals
from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from commonroom.core.request_info import RequestInfo, client_address
from commonroom.webdav import auth
from commonroom.webdav.errors import ErrorResponder, database_unavailable
from commonroom.webdav.locks import DatabaseLockStorage, SharedLockManager
from commonroom.webdav.mount import METHODS, MOUNT
from commonroom.webdav.properties import DatabasePropertyManager
from commonroom.webdav.resources import ENVIRON_KEY, CommonroomProvider, DavRequest

BLOCK_SIZE = 1024 * 1024
PROTECTIVE_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "sandbox; default-src 'none'"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "private, no-cache"),
]


def wsgidav_application() -> WsgiDAVApp:
    provider = CommonroomProvider()
    config = {
        "provider_mapping": {"/": provider},
        "mount_path": MOUNT,
        "lock_storage": DatabaseLockStorage(),
        "property_manager": DatabasePropertyManager(),
        "middleware_stack": [ErrorResponder, RequestResolver],
        "dir_browser": {"enable": False},
        "add_header_MS_Author_Via": True,
        "suppress_version_info": True,
        "block_size": BLOCK_SIZE,
        "verbose": 1,
        "logging": {"enable": False},
        # Office and Windows store their file times as dead properties, as sent.
        "hotfixes": {"emulate_win32_lastmod": False, "re_encode_path_info": True},
    }
    app = WsgiDAVApp(config)
    # WsgiDAV's manager, its check-then-take serialised in the database (locks.py).
    app.lock_manager = SharedLockManager(app.lock_manager.storage)
    provider.set_lock_manager(app.lock_manager)
    return app


class DavApplication:
    """The WSGI application mounted at ``/dav/`` (see the module)."""

    def __init__(self) -> None:
        self.dav = wsgidav_application()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            yield from self._answer(environ, self._protected(start_response))
        finally:
            signals.request_finished.send(sender=self.__class__)

    @staticmethod
    def _protected(start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            extra = [(n, v) for n, v in PROTECTIVE_HEADERS if n.lower() not in present]
            return start_response(status, [*headers, *extra], exc_info)

        return start

    def _answer(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == MOUNT or path.startswith(MOUNT + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + MOUNT
            environ["PATH_INFO"] = path[len(MOUNT) :] or "/"
        method = environ["REQUEST_METHOD"]
        info = request_info(environ)
        header = str(environ.get("HTTP_AUTHORIZATION", ""))
        if auth.credentials(header) is None:
            yield from self._anonymous(environ, start_response, method, info)
            return
        try:
            found = auth.authenticate(header, info=info)
        except Exception as exc:  # before any answer: one of the database's, or a fault
            refusal = database_unavailable(environ, exc)
            if refusal is None:
                raise
            yield _plain(start_response, 503, refusal.sentence, list(refusal.add_headers or []))
            return
        if isinstance(found, auth.Refusal):
            extra = [("WWW-Authenticate", auth.CHALLENGE)] if found.status == 401 else []
            if found.status == 429:
                extra.append(("Retry-After", "60"))
            yield _plain(start_response, found.status, found.message, extra)
            return
        if not auth.may_write(found, method):
            yield _plain(start_response, 403, auth.READ_ONLY)
            return
        environ[ENVIRON_KEY] = DavRequest(identity=found, info=info)
        environ["wsgidav.auth.user_name"] = found.principal
        environ["wsgidav.auth.realm"] = auth.REALM
        app_iter: Iterable[bytes] = self.dav(environ, start_response)
        try:
            yield from app_iter
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _anonymous(
        environ: dict[str, Any], start_response: Any, method: str, info: RequestInfo
    ) -> Iterator[bytes]:
        if method == "OPTIONS":
            start_response(
                "200 OK",
                [
                    ("Content-Length", "0"),
                    ("DAV", "1,2"),
                    ("MS-Author-Via", "DAV"),
                    ("Allow", METHODS),
                ],
            )
            yield b""
            return
        if (
            method == "HEAD"
            and environ["PATH_INFO"] in ("", "/")
            and "microsoft office" in info.user_agent.lower()
        ):
            start_response("200 OK", [("Content-Length", "0"), ("MS-Author-Via", "DAV")])
            yield b""
            return
        yield _plain(
            start_response, 401, auth.ASK_FOR_PASSWORD, [("WWW-Authenticate", auth.CHALLENGE)]
        )


def request_info(environ: dict[str, Any]) -> RequestInfo:
    """Where a request came from, for the trail and the sign-in limits: the client's address
    as this installation trusts it (``core.request_info.client_address``: X-Forwarded-For only
    from ``COMMONROOM_TRUSTED_PROXIES``), as every page and the API decide it."""
    return RequestInfo(
        ip=client_address(
            str(environ.get("REMOTE_ADDR", "")), str(environ.get("HTTP_X_FORWARDED_FOR", ""))
        )[:64],
        user_agent=str(environ.get("HTTP_USER_AGENT", ""))[:500],
    )


def _plain(
    start_response: Any, status: int, message: str, extra: list[tuple[str, str]] | None = None
) -> bytes:
    body = (message + "\n").encode("utf-8")
    reason = {
        401: "Unauthorized",
        403: "Forbidden",
        413: "Payload Too Large",
        429: "Too Many Requests",
        503: "Service Unavailable",
    }.get(status, "Error")
    start_response(
        f"{status} {reason}",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *(extra or []),
        ],
    )
    return body
