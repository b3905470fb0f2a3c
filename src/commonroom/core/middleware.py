"""HTTP middleware shared by every page: security headers and the HTML error boundary.

A full disk (ENOSPC, EDQUOT, or the database saying it is full) is not a bug: wherever it
happens in a request it answers 507 with one sentence and logs one line, no traceback. Views
reach :class:`ApplicationErrorMiddleware`; anything outside a view (the CSRF check parsing an
upload, a session being saved) reaches :func:`server_error`, Django's ``handler500``; a request
body that does not fit while uvicorn's bytes are spooled, before Django runs, reaches
:class:`StorageFullGuard` around the ASGI application.

PostgreSQL out of reach (restarted, stopped, its connection lost mid-request) is not a bug
either: the same two places answer 503 with a sentence and log one line. That page is drawn
without the database (templates/503.html), which is what is missing.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.shortcuts import render
from django.template import loader
from django.views.defaults import server_error as django_server_error

from commonroom.core.asgi_limits import send_error, wants_json
from commonroom.core.exceptions import (
    ApplicationError,
    BodyIncomplete,
    DatabaseUnavailable,
    StorageFull,
    database_unavailable_cause,
    storage_full_cause,
)
from commonroom.core.request_log import (
    REQUEST_ID,
    REQUEST_ID_HEADER,
    SCOPE_ID,
    SCOPE_ROUTE,
    request_id_from,
)
from commonroom.core.views import is_htmx

log = logging.getLogger("commonroom.storage")
database_log = logging.getLogger("commonroom.database")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)


def content_security_policy() -> str:
    """The policy every page carries. A form may also lead to the single sign-on provider
    (``COMMONROOM_FORM_ACTION_ORIGINS``): signing in and out there are forms posted here that
    end in a redirect to it, and browsers hold such redirects to ``form-action`` too."""
    extra = " ".join(settings.COMMONROOM_FORM_ACTION_ORIGINS)
    return CSP.replace("form-action 'self'", f"form-action 'self' {extra}") if extra else CSP


class RequestIdMiddleware:
    """First in the chain: the request's id (core.request_log), as the ASGI application decided
    it, or decided here when Django is run without it (the test client, WSGI), in the answer's
    ``X-Request-ID``; and, for the metrics, the route of the URL pattern that matched, written
    into the ASGI scope (core.asgi_observe counts the request when its answer ends)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        scope: dict[str, Any] | None = getattr(request, "scope", None)
        if scope is not None and SCOPE_ID in scope:
            return self._route_noted(request, scope)
        token = REQUEST_ID.set(request_id_from(request.headers.get(REQUEST_ID_HEADER)))
        try:
            response = self._route_noted(request, scope)
            response[REQUEST_ID_HEADER] = REQUEST_ID.get()
            return response
        finally:
            REQUEST_ID.reset(token)

    def _route_noted(self, request: HttpRequest, scope: dict[str, Any] | None) -> HttpResponse:
        response = self.get_response(request)
        if scope is not None:
            match = request.resolver_match
            if match is not None:
                scope[SCOPE_ROUTE] = "/" + match.route
            elif request.path.startswith(settings.STATIC_URL):
                scope[SCOPE_ROUTE] = settings.STATIC_URL  # served before any URL pattern
        return response


class SecurityHeadersMiddleware:
    """A strict Content-Security-Policy and no caching of private pages by shared caches."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response


class ApplicationErrorMiddleware:
    """The HTML boundary: an :class:`ApplicationError` from a page becomes an error page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.path.startswith("/api/"):
            return None
        if storage_full_cause(exception) is not None:
            return storage_full_response(request, exception)
        if database_unavailable_cause(exception) is not None:
            return database_unavailable_response(request, exception)
        if isinstance(exception, UnreadablePostError):
            return body_incomplete_response(request)
        if isinstance(exception, ApplicationError):
            if is_htmx(request):
                # A page's script asked (a composer, a live fragment): a short message, no page.
                return _sentence(exception)
            return render(
                request,
                "error.html",
                {"error": exception, "title": error_title(exception.status)},
                status=exception.status,
            )
        return None


def error_title(status: int) -> str:
    return {
        403: "You cannot do that",
        404: "Page not found",
        409: "That clashes with a change someone else made",
        410: "This link has already been used or has expired",
        413: "That file is too large",
        507: "The server's storage is full",
    }.get(status, "There is a problem")


def log_storage_full(method: str, path: str, exc: BaseException) -> None:
    """One line for the operator, no traceback: what was full and which request it refused."""
    cause = storage_full_cause(exc) or exc
    log.error(
        "storage full: %s %s answered 507 (%s: %s)", method, path, type(cause).__name__, cause
    )


def storage_full_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """507 in the form the asker reads: JSON for the upload form's script (and the API), a
    sentence for a page's script, else the error page. Logged here, once."""
    log_storage_full(request.method or "", request.path, exc)
    discard_partial_uploads(request)
    error = StorageFull()

    def page() -> HttpResponse:
        try:
            return render(
                request, "error.html", {"error": error, "title": error_title(507)}, status=507
            )
        except Exception:  # the page needs the database, which may be what is full
            return _sentence(error)

    # Django would log the 507 again as a server error ("Insufficient Storage: /path").
    return _answered(request, error, page)


def _sentence(error: ApplicationError) -> HttpResponse:
    return HttpResponse(
        error.message, status=error.status, content_type="text/plain; charset=utf-8"
    )


def _answered(
    request: HttpRequest, error: ApplicationError, page: Callable[[], HttpResponse]
) -> HttpResponse:
    """``error`` in the form the asker reads: JSON for the API and the upload form's script, a
    sentence for a page's script, else ``page()``; marked as logged already (its caller wrote
    the one line for the operator, and Django would log it again with its traceback)."""
    response: HttpResponse
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse({"code": error.code, "detail": error.message}, status=error.status)
    elif is_htmx(request):
        response = _sentence(error)
    else:
        response = page()
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def log_database_unavailable(method: str, path: str, exc: BaseException) -> None:
    """One line for the operator, no traceback: the database was out of reach, and which
    request that refused (psycopg's messages run over several lines: joined into one)."""
    cause = database_unavailable_cause(exc) or exc
    database_log.error(
        "database unavailable: %s %s answered 503 (%s: %s)",
        method,
        path,
        type(cause).__name__,
        " ".join(str(cause).split()),
    )


def database_unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 in the form the asker reads: JSON for the API and the upload form's script, a
    sentence for a page's script, else a page that needs no database (error.html's layout
    reads the header's counts from it, and a request must not wait for the database twice).
    Logged here, once."""
    log_database_unavailable(request.method or "", request.path, exc)
    discard_partial_uploads(request)
    error = DatabaseUnavailable()
    response = _answered(
        request,
        error,
        lambda: HttpResponse(
            loader.get_template("503.html").render({"message": error.message}), status=503
        ),
    )
    response["Retry-After"] = "60"  # a client may try again soon
    return response


def discard_partial_uploads(request: HttpRequest) -> None:
    """Delete the temporary file of an upload the full disk cut short. Django deletes it only
    when the file object is collected, and the error's traceback keeps it alive: the space it
    holds is what the next upload needs."""
    for handler in getattr(request, "_upload_handlers", None) or []:
        partial = getattr(handler, "file", None)
        if partial is not None:
            try:
                partial.close()  # removes a named temporary file, frees an unnamed one
            except OSError:
                log.warning("could not remove a partial upload's temporary file")


def body_incomplete_response(request: HttpRequest) -> HttpResponse:
    """A page's upload whose body stopped short (``core.asgi_body``): its file freed, and an
    answer that is never sent (so not logged: the client went, or the guard answers)."""
    discard_partial_uploads(request)
    error = BodyIncomplete()
    response = HttpResponse(
        error.message, status=error.status, content_type="text/plain; charset=utf-8"
    )
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: an error outside any view. A full disk and the database out of reach
    are answered as above; anything else is Django's own 500 page (templates/500.html)."""
    exc = sys.exc_info()[1]
    if exc is not None and storage_full_cause(exc) is not None:
        return storage_full_response(request, exc)
    if exc is not None and database_unavailable_cause(exc) is not None:
        return database_unavailable_response(request, exc)
    return django_server_error(request)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class StorageFullGuard:
    """Around Django's ASGI handler, which spools a request body (over 1 MiB) to a temporary
    file before any middleware runs: a full disk there answers 507 too, instead of uvicorn's
    500 and a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            if started or storage_full_cause(exc) is None:
                raise
            log_storage_full(str(scope.get("method", "")), str(scope.get("path", "")), exc)
            # Read (and drop) the rest of the body first: a browser still sending it would
            # report a dropped connection instead of reading the answer.
            message: Message = {"more_body": True}
            while message.get("more_body", False):
                message = await receive()
                if message["type"] != "http.request":
                    break
            await send_storage_full(scope, send)


async def send_storage_full(scope: Scope, send: Send) -> None:
    await send_error(send, StorageFull(), as_json=wants_json(scope))
