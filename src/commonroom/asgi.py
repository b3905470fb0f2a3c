"""The ASGI application uvicorn serves: behind an early guard on request bodies (which asks
accounts, and WebDAV for its PUTs, who a request's credentials sign in), WebDAV at /dav/
(``webdav.asgi``) and Django for the rest of http; the live consumers for websockets. In
production it refuses to load without the shared cache (``core.shared_state``), however
uvicorn was started."""

from __future__ import annotations

import os
import re
import tempfile
import time

from commonroom.cli import SERVING_POOL_SIZE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonroom.settings")
# However uvicorn was started: PostgreSQL connections from a pool (settings.DB_POOL_SIZE).
os.environ.setdefault("DB_POOL_SIZE", str(SERVING_POOL_SIZE))

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does

from commonroom.core.asgi_body import StreamingASGIHandler  # noqa: E402
from commonroom.core.asgi_limits import UPLOAD_PATHS, Scope  # noqa: E402
from commonroom.core.shared_state import shared_state_refusal  # noqa: E402


def streamed(scope: Scope) -> bool:
    """An upload of the pages or the API: its body read as it arrives (core.asgi_body)."""
    return scope.get("method") == "POST" and bool(UPLOAD_PATHS.match(str(scope.get("path", ""))))


django_application = StreamingASGIHandler(streamed=streamed)

if (refusal := shared_state_refusal(workers=1)) is not None:
    raise ImproperlyConfigured(refusal)

# Imported after Django is set up: they load models.
from channels.db import database_sync_to_async  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from commonroom.accounts.selectors import TOKEN_READ, TokenRead  # noqa: E402
from commonroom.accounts.selectors import uploader as uploader_of  # noqa: E402
from commonroom.core.asgi_limits import RequestSizeLimit, UploadRoute, header  # noqa: E402
from commonroom.core.asgi_observe import RequestObserver  # noqa: E402
from commonroom.core.heap import settle_for_serving  # noqa: E402
from commonroom.core.middleware import StorageFullGuard  # noqa: E402
from commonroom.core.pooled_sqlite3.base import pool_connections  # noqa: E402
from commonroom.core.wal_keeper import keep_wal_open  # noqa: E402
from commonroom.live.auth import SocketAuth  # noqa: E402
from commonroom.live.routing import websocket_urlpatterns  # noqa: E402
from commonroom.webdav.asgi import DavEndpoint, with_dav  # noqa: E402
from commonroom.webdav.auth import person_of  # noqa: E402
from commonroom.webdav.mount import MOUNT, body_limit  # noqa: E402

# Django's ASGI handler spools each request body (over 1 MiB) but an upload's to a temporary
# file. Put those beside the uploads on the data disk, never on a memory-backed /tmp, so memory
# stays flat.
tempfile.tempdir = str(settings.FILE_UPLOAD_TEMP_DIR)

# SQLite: a request's connection is never the database's last, so closing it does not copy the
# write-ahead log into the database (and fsync both) every time (core.wal_keeper).
keep_wal_open()
# SQLite: a request takes up a connection an earlier one closed, its schema already read
# (core.pooled_sqlite3).
pool_connections(getattr(settings, "SQLITE_POOL_SIZE", 0))


async def uploader(bearer: str, session_key: str) -> int | None:
    """Who an upload's API token or session signs in, asked before its body is read. The
    token's row read to decide it is handed to the request's own sign-in (``TokenRead``, in
    this request's task only), which judges it again instead of reading it again."""
    person_id, token = await database_sync_to_async(uploader_of)(
        bearer=bearer, session_key=session_key
    )
    if token is not None:
        TOKEN_READ.set(TokenRead(secret=bearer, token=token, at=time.monotonic()))
    return person_id


async def dav_uploader(scope: Scope) -> int | None:
    """Who a WebDAV PUT's Basic credentials (email and app password) sign in, asked before its
    body is read."""
    authorization = header(scope, b"authorization").decode("latin-1")
    return await database_sync_to_async(person_of)(authorization)


def dav_route(scope: Scope) -> str | None:
    """The metrics' route of a request WebDAV answered: its mount, whatever the path."""
    path = str(scope.get("path", ""))
    return MOUNT + "/" if path == MOUNT or path.startswith(MOUNT + "/") else None


# A WebDAV PUT: a whole file, as large as an upload, from its person only.
dav_uploads = UploadRoute(
    path=re.compile(rf"^{re.escape(MOUNT)}(/|$)"),
    methods=frozenset({"PUT"}),
    identify=dav_uploader,
    limit=lambda: body_limit("PUT"),
)


application = ProtocolTypeRouter(
    {
        # Bodies' size, pace and number decided before anything reads them (core.asgi_limits),
        # WebDAV's PUTs among the uploads; then /dav/ (WebDAV) routed before Django; for the
        # rest, a full disk while the body is spooled, before Django runs: 507, not 500.
        # Around it all: the request's id, its metrics and its access line (core.asgi_observe).
        "http": RequestObserver(
            RequestSizeLimit(
                with_dav(DavEndpoint(), StorageFullGuard(django_application)),  # type: ignore[arg-type]
                identify=uploader,
                routes=[dav_uploads],
            ),
            label=dav_route,
            access_lines=lambda: settings.COMMONROOM_LOG_FORMAT == "json",
        ),
        "websocket": SocketAuth(URLRouter(websocket_urlpatterns)),
    }
)

# Everything loaded so far (Django, the apps, their modules and classes) lives as long as the
# process: the collector is settled for serving once it is loaded (core/heap.py), in every
# serving process whatever the number of workers.
settle_for_serving()
