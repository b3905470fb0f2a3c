"""The WebDAV boundary for errors: an ``ApplicationError`` a service raises becomes a status
and its sentence as plain text, the way the HTML boundary renders ``error.html`` and the API
answers ``{"code", "detail"}``.

- 404, 403, 409, 413, 507 as the services say (a non-member gets 404: ``workspace_access``);
- a sealed document (its final record stands, ``documents.exceptions.Sealed``) is 423 Locked,
  with the seal's sentence: nothing may change it until a manager reopens it;
- a full disk anywhere is 507 with the same sentence as the pages (``core.exceptions``).

WsgiDAV's own refusals keep their status; every error body is plain text (a lock conflict's
body stays WebDAV's XML, which clients read).
"""

from __future__ import annotations

import errno
import logging
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from wsgidav import util
from wsgidav.dav_error import (
    ERROR_DESCRIPTIONS,
    HTTP_FORBIDDEN,
    HTTP_INTERNAL_ERROR,
    HTTP_NO_CONTENT,
    HTTP_NOT_MODIFIED,
    DAVError,
    get_http_status_string,
)
from wsgidav.mw.base_mw import BaseMiddleware

from commonroom.core.exceptions import (
    DATABASE_UNAVAILABLE_MESSAGE,
    STORAGE_FULL_MESSAGE,
    ApplicationError,
    database_unavailable_cause,
    storage_full_cause,
)
from commonroom.core.middleware import log_database_unavailable

log = logging.getLogger("commonroom.webdav")

SEALED_CODE = "sealed"


class ClientGone(Exception):
    """The client went away in the middle of its request's body (``webdav.asgi``)."""


class SentenceError(DAVError):
    """A refusal whose body is one sentence for a person, as plain text."""

    def __init__(self, status: int, sentence: str, **kwargs: Any) -> None:
        super().__init__(status, sentence, **kwargs)
        self.sentence = sentence

    def get_response_page(self) -> tuple[str, bytes]:
        if self.err_condition:
            return super().get_response_page()
        return "text/plain; charset=utf-8", (self.sentence + "\n").encode("utf-8")


def database_unavailable(environ: dict[str, Any], exc: BaseException) -> SentenceError | None:
    """For ``exc`` that says PostgreSQL is out of reach (or SQLite's writer lock was not had in
    time): 503 with the app's sentence and when to try again, logged in one line as the rest
    of the app does; ``None`` for any other error."""
    if database_unavailable_cause(exc) is None:
        return None
    log_database_unavailable(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""), exc)
    return SentenceError(503, DATABASE_UNAVAILABLE_MESSAGE, add_headers=[("Retry-After", "60")])


def dav_error(exc: ApplicationError) -> SentenceError:
    status = 423 if exc.code == SEALED_CODE else exc.status
    return SentenceError(status, exc.message)


@contextmanager
def answered() -> Iterator[None]:
    """Around a service call: its refusal as a WebDAV error with its sentence."""
    try:
        yield
    except ApplicationError as exc:
        raise dav_error(exc) from None


def _plain(error: DAVError) -> tuple[str, bytes]:
    if isinstance(error, SentenceError) or error.err_condition:
        return error.get_response_page()
    text = error.context_info or ERROR_DESCRIPTIONS.get(error.value, str(error.value))
    return "text/plain; charset=utf-8", (str(text) + "\n").encode("utf-8")


class ErrorResponder(BaseMiddleware):
    """In place of WsgiDAV's ``ErrorPrinter``: any error below becomes its response, with a
    plain-text body; an unexpected one is logged with its traceback and answered 500."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        sub = util.SubAppStartResponse()
        try:
            try:
                started = False
                app_iter = self.next_app(environ, sub)
                for chunk in app_iter:
                    if not started:
                        start_response(sub.status, sub.response_headers, sub.exc_info)
                        started = True
                    yield chunk
                if hasattr(app_iter, "close"):
                    app_iter.close()
                if not started:
                    start_response(sub.status, sub.response_headers, sub.exc_info)
                return
            except DAVError:
                raise
            except ApplicationError as exc:
                raise dav_error(exc) from None
            except Exception as exc:
                if storage_full_cause(exc) is not None:
                    log.error("webdav: the storage is full (%s)", storage_full_cause(exc))
                    raise SentenceError(507, STORAGE_FULL_MESSAGE) from None
                if (refusal := database_unavailable(environ, exc)) is not None:
                    raise refusal from None
                if isinstance(exc, OSError) and exc.errno == errno.EACCES:
                    raise DAVError(HTTP_FORBIDDEN) from None
                log.error("webdav: %s\n%s", exc, traceback.format_exc())
                raise DAVError(HTTP_INTERNAL_ERROR) from None
        except DAVError as error:
            if error.value == HTTP_INTERNAL_ERROR and error.src_exception is not None:
                cause = error.src_exception
                if storage_full_cause(cause) is not None:
                    error = SentenceError(507, STORAGE_FULL_MESSAGE)
                elif (refusal := database_unavailable(environ, cause)) is not None:
                    error = refusal
                elif isinstance(cause, ApplicationError):
                    error = dav_error(cause)
                elif isinstance(cause, ClientGone):
                    log.info("webdav: %s", cause)
                else:
                    log.error("webdav: %r", cause)
            status = get_http_status_string(error)
            if error.value in (HTTP_NOT_MODIFIED, HTTP_NO_CONTENT):
                start_response(status, [("Content-Length", "0")])
                yield b""
                return
            content_type, body = _plain(error)
            start_response(
                status,
                [
                    ("Content-Type", content_type),
                    ("Content-Length", str(len(body))),
                    *(error.add_headers or []),
                ],
            )
            yield body if error.add_body else b""
