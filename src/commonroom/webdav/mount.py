"""Where WebDAV is mounted and what its requests may send, without WsgiDAV: what the ASGI
application (``asgi.py``) and the receivers need at start. WsgiDAV and the endpoint
(``app``, ``resources``, ``locks``, ``properties``) are loaded on the first request to
``/dav/`` (``webdav.asgi.DavEndpoint``), so a serving process that is never asked for WebDAV
never holds them."""

from __future__ import annotations

from django.conf import settings

from commonroom.core.asgi_limits import ENVELOPE

MOUNT = "/dav"
METHODS = "OPTIONS, GET, HEAD, PROPFIND, PROPPATCH, PUT, DELETE, COPY, MOVE, MKCOL, LOCK, UNLOCK"


def body_limit(method: str) -> int:
    """The largest body a request of its person may send: a whole file for a PUT, a form's
    elsewhere (the XML of PROPFIND, PROPPATCH, LOCK). For the guard in front (``asgi.py``)."""
    if method == "PUT":
        return int(settings.COMMONROOM_MAX_UPLOAD_BYTES)
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) + ENVELOPE
