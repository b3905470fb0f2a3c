"""``/dav/`` inside ``commonroom serve``'s ASGI application: the WSGI endpoint (``app``) run in
a2wsgi's threads, routed by path before Django, so no second server is started.

The body is read by the endpoint only after the person is known, a chunk at a time, with
backpressure (a2wsgi asks for the next chunk when the last one is written): memory stays flat
whatever the size. A client that goes away in the middle of a body makes the read fail
(:class:`~commonroom.webdav.errors.ClientGone`) instead of ending it early, so a cut-off PUT
is never taken for a whole file.

Office asks ``OPTIONS /`` (the site's root, above ``/dav/``) before it sends credentials: that
is answered here with WebDAV's headers, the same for everyone (:func:`with_dav`).

Body limits (for ``core.asgi_limits``' guard, which ``/dav/`` does not go through): a PUT may
be as large as an upload (``COMMONROOM_MAX_UPLOAD_BYTES``), anything else as a form;
``app.body_limit`` says which, and ``app.DavApplication`` refuses a larger declared body with
413 after authenticating and before reading; a body without a length is counted as it comes.
"""

from __future__ import annotations

from typing import Any

from a2wsgi import WSGIMiddleware

from commonroom.webdav.app import METHODS, MOUNT, DavApplication
from commonroom.webdav.errors import ClientGone

THREADS = 10  # WebDAV requests answered at once by one server process


class DavEndpoint:
    def __init__(self, application: Any = None) -> None:
        app: Any = application or DavApplication()
        self.inner = WSGIMiddleware(app, workers=THREADS)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def guarded_receive() -> Any:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone("The client went away before its request's body ended.")
            return message

        await self.inner(scope, guarded_receive, send)


def is_dav(path: str) -> bool:
    return path == MOUNT or path.startswith(MOUNT + "/")


def with_dav(dav: Any, other: Any) -> Any:
    """The http application: ``/dav/`` to ``dav``, Office's ``OPTIONS /`` answered, the rest to
    ``other`` (Django behind its guards)."""

    async def route(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = str(scope.get("path", ""))
            if is_dav(path):
                await dav(scope, receive, send)
                return
            if path == "/" and scope.get("method") == "OPTIONS":
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-length", b"0"),
                            (b"dav", b"1,2"),
                            (b"ms-author-via", b"DAV"),
                            (b"allow", METHODS.encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await other(scope, receive, send)

    return route
