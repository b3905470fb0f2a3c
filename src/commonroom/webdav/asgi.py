"""``/dav/`` inside ``commonroom serve``'s ASGI application: the WSGI endpoint (``app``) run in
a2wsgi's threads, routed by path before Django, so no second server is started.

The body is read by the endpoint only after the person is known, a chunk at a time, with
backpressure (a2wsgi asks for the next chunk when the last one is written): memory stays flat
whatever the size. A client that goes away in the middle of a body makes the read fail
(:class:`~commonroom.webdav.errors.ClientGone`) instead of ending it early, so a cut-off PUT
is never taken for a whole file.

Office asks ``OPTIONS /`` (the site's root, above ``/dav/``) before it sends credentials: that
is answered here with WebDAV's headers, the same for everyone (:func:`with_dav`).

Bodies pass ``core.asgi_limits``' guard first, as every request does (``asgi.py`` puts it in
front of this and Django alike): a PUT is one of its upload routes, whose person
(``auth.person_of``, from the Basic credentials) is known before a byte is read, so only they
may send a whole file (``app.body_limit``), within their upload slots, and a body that stalls
is dropped. Everything else is held to a form's size. The provider still counts a PUT's bytes
as they come (``resources.BodyWriter``), as the upload handler does inside the guard's limit.

When the body ends early (the client gone, or the guard dropping it), the endpoint answers
nothing, as Django does not: the guard's refusal (408, 413) is what the client gets.
"""

from __future__ import annotations

from typing import Any

from commonroom.webdav.mount import METHODS, MOUNT

THREADS = 10  # WebDAV requests answered at once by one server process


class DavEndpoint:
    """The endpoint, built on its first request: WsgiDAV and the endpoint's modules (3.7 MiB
    of a serving process's memory; some 0.1 s to load, once) are loaded only by a process
    that is asked for WebDAV."""

    def __init__(self, application: Any = None) -> None:
        self.application = application
        self._inner: Any = None

    @property
    def inner(self) -> Any:
        if self._inner is None:
            from a2wsgi import WSGIMiddleware

            from commonroom.webdav.app import DavApplication

            app: Any = self.application or DavApplication()
            self._inner = WSGIMiddleware(app, workers=THREADS)
        return self._inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from commonroom.webdav.errors import ClientGone

        gone = False
        started = False

        async def guarded_receive() -> Any:
            nonlocal gone
            message = await receive()
            if message["type"] == "http.disconnect":
                gone = True
                raise ClientGone("The client went away before its request's body ended.")
            return message

        async def quiet_send(message: Any) -> None:
            nonlocal started
            if gone and not started:
                return  # nobody to answer, or the guard in front answers why
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.inner(scope, guarded_receive, quiet_send)


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
