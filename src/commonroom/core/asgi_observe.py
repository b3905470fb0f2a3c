"""Around the whole HTTP application (commonroom.asgi): each request's id, its metrics and, with
JSON logs, its access line.

The id (core.request_log) is decided here, before anything else runs, set in the context
variable the log filter reads (asgiref copies it into the thread Django's sync code runs in),
kept in the scope for Django (core.middleware.RequestIdMiddleware) and sent back in the answer's
``X-Request-ID``. The route label is the URL pattern Django matched, which its middleware writes
into the scope; a request Django never saw is ``label(scope)`` (WebDAV's mount) or "unmatched".
The time counted runs from the request's arrival to the last byte of its answer's body, so a
streamed download counts whole. uvicorn's access log is off with JSON logs (``serve``): this
line replaces it, never doubles it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from commonroom.core import metrics
from commonroom.core.asgi_limits import ASGIApp, Message, Receive, Scope, Send, header
from commonroom.core.request_log import REQUEST_ID, SCOPE_ID, SCOPE_ROUTE, request_id_from

access_log = logging.getLogger("commonroom.access")
CLIENT_GONE = 499  # nginx's code for a request whose client closed it before the answer


class RequestObserver:
    def __init__(
        self,
        app: ASGIApp,
        *,
        label: Callable[[Scope], str | None] = lambda scope: None,
        access_lines: Callable[[], bool] = lambda: False,
    ) -> None:
        self.app = app
        self.label = label
        self.access_lines = access_lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(header(scope, b"x-request-id"))
        token = REQUEST_ID.set(request_id)
        scope[SCOPE_ID] = request_id
        started = time.monotonic()
        # An application that fails before answering: uvicorn answers 500. One that returns
        # without answering did so because the client went (an upload given up half way):
        # 499, nginx's "client closed request", so it is not counted as the server's error.
        status = CLIENT_GONE
        finished = False

        async def observed_send(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except BaseException:
            if status == CLIENT_GONE:
                status = 500
            raise
        finally:
            seconds = time.monotonic() - started
            route = scope.get(SCOPE_ROUTE) or self.label(scope) or metrics.UNMATCHED
            method = str(scope.get("method", ""))
            metrics.request_counted(method=method, route=route, status=status, seconds=seconds)
            if self.access_lines():
                access_log.info(
                    "%s %s %s %.1f ms",
                    method,
                    route,
                    status,
                    seconds * 1000,
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 1),
                        "complete": finished,
                    },
                )
            REQUEST_ID.reset(token)
