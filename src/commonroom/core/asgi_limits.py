"""Refuse an over-size, stalled or one-too-many request body before Django spools it to disk.

Django's ASGI handler reads the whole body (to a temporary file on the data disk) before any
middleware or view runs, so what a body may cost is decided here, from the headers alone:

- **Who is asking.** Only a person signed in earns a large body, and only on an upload route:
  the four of the pages and the API, and any other the application names (:class:`UploadRoute`:
  WebDAV's PUT, signed in by HTTP Basic). Before a byte is read, the API token
  (``Authorization: Bearer``, on the API's routes) or the session cookie is checked against
  the database by the ``identify`` function the application passes in
  (``accounts.selectors.uploader_id``; core names no app), another route's credentials by its
  own. Anyone else, everywhere, gets Django's form limit. Whether the person may upload
  *there* is still the application's to decide (a 404); this layer decides only the size.
- **How large.** 413 at once when ``Content-Length`` already says the body is over the limit;
  a body without a length (chunked), or longer than it declared, is cut off as soon as it
  passes the limit (Django sees a disconnect and keeps nothing) and answered 413 too. The
  per-file check in :mod:`commonroom.documents.uploads` still applies inside the limit.
- **How slowly.** A body of which nothing arrives for ``COMMONROOM_BODY_STALL_SECONDS`` is
  dropped the same way (Django closes its spooled file, which has no name, so the disk space
  is freed) and answered 408, on every route.
- **How many at once.** A signed-in person's uploads each hold one of their
  ``COMMONROOM_MAX_CONCURRENT_UPLOADS`` slots (``core.upload_slots``, in the shared cache) from
  before the body is read until the response is sent or the client is gone; one more is 429.

PostgreSQL out of reach when the person is looked up is 503 with a sentence
(:class:`~commonroom.core.exceptions.DatabaseUnavailable`), as it is in Django.

Every refusal is the API's JSON ``{"code", "detail"}`` (on /api/, or when the page's upload
script asks for JSON) or plain text, and closes the connection. An application behind the guard
that is told the client disconnected answers nothing (Django does not; WebDAV's endpoint,
``webdav.asgi``, does not either), so the refusal is what the client gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http.cookie import parse_cookie

from commonroom.core.exceptions import (
    ApplicationError,
    DatabaseUnavailable,
    TooLarge,
    database_unavailable_cause,
)
from commonroom.core.upload_slots import (
    RENEW_SECONDS,
    UploadSlot,
    too_many_uploads,
    upload_slot_give_back,
    upload_slot_renew,
    upload_slot_take,
)

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# (API token, session key) -> the id of the person they sign in, if they may upload with them.
Identify = Callable[[str, str], Awaitable[int | None]]
# A request's scope (its headers) -> the same, for an upload route with its own credentials.
IdentifyScope = Callable[[Scope], Awaitable[int | None]]

# Room for the multipart envelope and form fields around the largest allowed file.
ENVELOPE = 1024 * 1024


class BodyTooLarge(Exception):
    pass


_UUID = "[0-9a-fA-F-]{32,36}"
UPLOAD_PATHS = re.compile(
    rf"^/w/{_UUID}/upload/$"
    rf"|^/w/{_UUID}/d/{_UUID}/versions/$"
    rf"|^/api/v1/workspaces/[^/]+/documents/?$"
    rf"|^/api/v1/workspaces/[^/]+/documents/[^/]+/versions/?$"
)


# Methods that carry no body worth a slot or a look-up.
BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


def form_limit() -> int:
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) + ENVELOPE


def upload_limit() -> int:
    return int(settings.COMMONROOM_MAX_UPLOAD_BYTES) + ENVELOPE


@dataclass(frozen=True)
class UploadRoute:
    """Requests that may carry a whole file from someone signed in: which (``path``, and
    ``methods``: None for every method with a body), who their credentials sign in
    (``identify``, from the headers alone, before a byte of the body is read), and how large a
    body that person may then send (``limit``, in bytes)."""

    path: re.Pattern[str]
    identify: IdentifyScope
    limit: Callable[[], int]
    methods: frozenset[str] | None = None

    def matches(self, path: str, method: str) -> bool:
        if method in BODILESS or (self.methods is not None and method not in self.methods):
            return False
        return bool(self.path.match(path))

    def largest(self, *, signed_in: bool) -> int:
        return self.limit() if signed_in else min(form_limit(), self.limit())


def pages_and_api(identify: Identify | None) -> UploadRoute:
    """The four upload routes of the pages and the API: a bearer token on the API's routes, a
    session cookie anywhere, asked of ``identify`` (without it, nobody is signed in)."""

    async def from_headers(scope: Scope) -> int | None:
        if identify is None:
            return None
        bearer, session_key = credentials(scope)
        if not (bearer or session_key):
            return None
        return await identify(bearer, session_key)

    return UploadRoute(path=UPLOAD_PATHS, identify=from_headers, limit=upload_limit)


def limit_bytes(path: str, *, signed_in: bool) -> int:
    """The largest body accepted on ``path`` of the pages and the API: a whole file on an
    upload route from someone signed in, never more than a form otherwise."""
    if not UPLOAD_PATHS.match(path):
        return form_limit()
    return pages_and_api(None).largest(signed_in=signed_in)


def human_size(num: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if num < 1024 or unit == "TB":
            return f"{num:.0f} {unit}" if unit == "bytes" else f"{num:.1f} {unit}"
        num /= 1024
    return f"{num:.1f} TB"  # pragma: no cover


def too_large_error() -> TooLarge:
    """The refusal of a file over ``COMMONROOM_MAX_UPLOAD_BYTES``, here or in the upload handler."""
    limit = settings.COMMONROOM_MAX_UPLOAD_BYTES
    return TooLarge(
        f"That file is larger than the limit of {human_size(limit)}. Nothing was saved.",
        code="too_large",
    )


def too_large_refusal(route: UploadRoute | None, *, signed_in: bool) -> TooLarge:
    """Why a body over the limit of ``route`` (None: not an upload route) was refused."""
    if route is not None:
        if signed_in or route.limit() <= form_limit():
            return too_large_error()
        return TooLarge(
            "Sign in (or send an API token) to upload a file this large. Nothing was saved.",
            code="too_large",
        )
    return TooLarge("That request is too large. Nothing was saved.", code="too_large")


def stalled_error() -> ApplicationError:
    seconds = stall_seconds()
    unit = "second" if seconds == 1 else "seconds"
    return ApplicationError(
        f"Nothing of the request arrived for {seconds:g} {unit}, so it was dropped. "
        "Nothing was saved; try again.",
        code="request_stalled",
        status=408,
    )


def stall_seconds() -> float:
    return max(float(settings.COMMONROOM_BODY_STALL_SECONDS), 0.1)


def header(scope: Scope, name: bytes) -> bytes:
    """The value of header ``name`` (lower case), several joined as HTTP allows, or b""."""
    values = [v for k, v in scope.get("headers", []) if k.lower() == name]
    return (b"; " if name == b"cookie" else b", ").join(values)


def wants_json(scope: Scope) -> bool:
    """The API's routes, and pages' scripts that ask for JSON (the upload progress bar)."""
    path = str(scope.get("path", ""))
    return path.startswith("/api/") or b"application/json" in header(scope, b"accept")


def credentials(scope: Scope) -> tuple[str, str]:
    """The API token (on the API's routes only, as only they take one) and the session key a
    request carries, each "" if absent."""
    bearer = ""
    if str(scope.get("path", "")).startswith("/api/"):
        authorization = header(scope, b"authorization").decode("latin-1")
        if authorization[:7].lower() == "bearer ":
            bearer = authorization[7:].strip()
    cookies = parse_cookie(header(scope, b"cookie").decode("latin-1"))
    return bearer, cookies.get(settings.SESSION_COOKIE_NAME, "")


def declared_length(scope: Scope) -> int:
    try:
        return int(header(scope, b"content-length") or 0)
    except ValueError:
        return 0


# The slot of an upload let through while the shared cache is out of reach: nothing to renew
# or give back.
UNCOUNTED = UploadSlot(key="", holder="")


class UploadLease:
    """An upload's slot while its request runs: renewed meanwhile and given back once, as the
    last part of its answer is sent (so a client holding its answer may start its next upload
    at once, on any process) or, failing that, when the request ends."""

    def __init__(self, slot: UploadSlot) -> None:
        self.slot = slot
        self.given_back = slot is UNCOUNTED
        self.renewing: asyncio.Task[None] | None = None

    def start_renewing(self) -> None:
        self.renewing = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                await sync_to_async(upload_slot_renew)(self.slot)
            except Exception:  # the cache out of reach a moment: the upload carries on
                log.warning("Could not renew an upload slot (%s); trying again", self.slot.key)

    async def give_back(self) -> None:
        if self.renewing is not None:
            self.renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.renewing
            self.renewing = None
        if self.given_back:
            return
        self.given_back = True
        try:
            await sync_to_async(upload_slot_give_back)(self.slot)
        except Exception:  # the cache away now: the lease lapses by itself
            log.warning("Could not give back an upload slot (%s); it lapses", self.slot.key)


@contextlib.asynccontextmanager
async def upload_slot(person_id: int) -> AsyncIterator[UploadLease | None]:
    """One of ``person_id``'s upload slots for the length of the block (renewed meanwhile, given
    back by its end whatever happens), or None if they have none free. When the shared cache
    cannot be reached (Redis down a moment), the upload goes ahead uncounted
    (:data:`UNCOUNTED`): the cap is a guard against one person's many uploads, and an upload
    refused because the guard's own store is away would be a loss to nobody's benefit."""
    try:
        slot = await sync_to_async(upload_slot_take)(person_id=person_id)
    except Exception:
        log.warning("The shared cache is out of reach: an upload goes ahead without its slot")
        yield UploadLease(UNCOUNTED)
        return
    if slot is None:
        yield None
        return
    lease = UploadLease(slot)
    lease.start_renewing()
    try:
        yield lease
    finally:
        await lease.give_back()


async def send_error(send: Send, error: ApplicationError, *, as_json: bool) -> None:
    """Answer with ``error`` before (or instead of) Django: its status, and its message as the
    JSON API's ``{"code", "detail"}`` or as plain text; the connection is closed after it."""
    if as_json:
        body = json.dumps({"code": error.code, "detail": error.message}).encode()
        ctype = b"application/json"
    else:
        body = error.message.encode()
        ctype = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestSizeLimit:
    """The guard in front of the application (see the module's docstring). ``identify`` tells
    who a request's token or session signs in on the pages' and the API's upload routes
    (without it nobody is signed in there, so every body is held to the form limit); ``routes``
    are other upload routes, each with its own way of telling."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        identify: Identify | None = None,
        routes: Sequence[UploadRoute] = (),
    ) -> None:
        self.app = app
        self.routes = [pages_and_api(identify), *routes]

    def route(self, scope: Scope) -> UploadRoute | None:
        path = str(scope.get("path", ""))
        method = str(scope.get("method", "")).upper()
        return next((r for r in self.routes if r.matches(path, method)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self.route(scope)
        try:
            person_id = await route.identify(scope) if route is not None else None
        except Exception as exc:
            # The look-up of who is uploading is this request's first query: PostgreSQL out
            # of reach is answered here as Django's boundaries answer it (503, one line).
            if database_unavailable_cause(exc) is None:
                raise
            from commonroom.core.middleware import log_database_unavailable  # imports this

            log_database_unavailable(str(scope.get("method", "")), str(scope.get("path", "")), exc)
            await send_error(send, DatabaseUnavailable(), as_json=wants_json(scope))
            return
        signed_in = person_id is not None
        limit = route.largest(signed_in=signed_in) if route is not None else form_limit()
        refusal = too_large_refusal(route, signed_in=signed_in)
        if declared_length(scope) > limit:
            await send_error(send, refusal, as_json=wants_json(scope))
            return
        if person_id is None:
            await self.guarded(scope, receive, send, limit=limit, too_large=refusal)
            return
        async with upload_slot(person_id) as lease:
            if lease is None:
                await send_error(send, too_many_uploads(), as_json=wants_json(scope))
                return
            await self.guarded(
                scope,
                receive,
                send,
                limit=limit,
                too_large=refusal,
                before_last_part=lease.give_back,
            )

    async def guarded(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        limit: int,
        too_large: TooLarge,
        before_last_part: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """The application, reading a body cut off past ``limit`` bytes (refused with
        ``too_large``) or after a stall; ``before_last_part`` is awaited just before the last
        part of its answer is sent."""
        stall = stall_seconds()
        received = 0
        refusal: ApplicationError | None = None
        body_done = False
        started = False

        async def guarded_receive() -> Message:
            nonlocal received, refusal, body_done
            if refusal is not None:
                return {"type": "http.disconnect"}
            if body_done:  # Django listening for a disconnect while the view runs
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout=stall)
            except TimeoutError:
                # Django treats a disconnect as an aborted request: it closes (and so frees)
                # the body spooled so far and keeps nothing.
                refusal = stalled_error()
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refusal = too_large
                    return {"type": "http.disconnect"}
                body_done = not message.get("more_body", False)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            elif (
                message["type"] == "http.response.body"
                and not message.get("more_body", False)
                and before_last_part is not None
            ):
                await before_last_part()
            await send(message)

        await self.app(scope, guarded_receive, watched_send)
        if refusal is not None and not started:
            # The client may still be there: tell it why, rather than leave uvicorn to answer
            # 500; the answer closes the connection.
            await send_error(send, refusal, as_json=wants_json(scope))
