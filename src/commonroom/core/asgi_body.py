"""An upload's request body read as it arrives, instead of spooled to disk first.

Django's ASGI handler reads the whole body into a temporary file before any middleware or view
runs; for an upload that file is then read back by the multipart parser and written again into
the upload's own scratch file, so every byte crossed the disk twice before it was stored. On
the routes ``streamed`` names (the upload routes: see ``asgi.py``), :class:`StreamingASGIHandler`
gives the request a :class:`StreamedBody` instead: a file whose ``read`` hands the view's thread
the body as uvicorn receives it, through a small buffer (:data:`BUFFER_BYTES`). Each byte is
then written once, where the upload handler puts it (``documents.uploads``).

What a body may cost is still decided before a byte is read (``core.asgi_limits``, in front of
this): its size, its pace and the person's upload slots. What changes is only when the view
runs: while the body arrives rather than after. So:

- **Memory stays flat.** When the buffer is full, the body is not received any further until
  the view's thread has read some of it; uvicorn then stops reading the socket.
- **A body that ends early is never taken for a whole one.** When the client goes (or the guard
  in front cuts the body off: too large, stalled), ``read`` raises :class:`BodyEndedEarly`, so
  the multipart parser stops and the request keeps nothing; Django, told of the disconnect,
  sends nothing, and the guard answers its refusal. Files already parsed from the body are
  closed by the parser, the one being written by the API's or the pages' error handling.
- **A view that answers without reading the body** (a 404, a refusal) still has the rest of it
  read and dropped before its answer is sent, as when Django had read it all first: a client
  still sending would otherwise see a broken connection instead of the answer. If the body
  never arrives whole, that answer is not sent at all (Django would not have run the view):
  the guard's refusal (too large, stalled) is the answer.
- **Only a view run in a thread may read it.** Reading on the event loop would wait for the
  loop itself; it raises instead. Django runs the upload views (sync) in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any, ParamSpec, TypeVar, cast

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.http import HttpRequest, HttpResponseBase, UnreadablePostError

from commonroom.core.asgi_limits import Message, Scope
from commonroom.core.middleware import discard_partial_uploads

# The callables Django's handler is given (as its type stubs spell them).
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

# Body bytes held between uvicorn and the view's thread, at most (plus one message).
BUFFER_BYTES = 2 * 1024 * 1024


class BodyEndedEarly(UnreadablePostError):
    """The body ended before all of it arrived: the client went, or the guard cut it off. The
    API and the pages' error boundary answer it as ``core.exceptions.BodyIncomplete``."""


class _Chunks:
    """Bytes queued as the messages brought them, taken from the front without moving the
    rest: a whole message is handed on as it is, a part of one copied once."""

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # into the first chunk: what was taken of it already
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def append(self, chunk: bytes) -> None:
        if chunk:
            self._chunks.append(chunk)
            self.size += len(chunk)

    def take(self, size: int) -> bytes:
        parts: list[bytes] = []
        wanted = min(size, self.size)
        self.size -= wanted
        while wanted:
            head, start = self._chunks[0], self._offset
            if len(head) - start <= wanted:
                parts.append(head[start:] if start else head)
                self._chunks.popleft()
                self._offset = 0
                wanted -= len(head) - start
            else:
                parts.append(head[start : start + wanted])
                self._offset += wanted
                wanted = 0
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def take_piece(self, size: int) -> bytes:
        """Up to ``size`` bytes from the first chunk only, as a socket's ``recv`` gives what
        has arrived: a message read whole is handed on without a copy, where a read spanning
        two messages would join them (a copy of every byte of an upload's body)."""
        if not self._chunks:
            return b""
        head, start = self._chunks[0], self._offset
        return self.take(min(size, len(head) - start))

    def find(self, sub: bytes) -> int:
        """Where ``sub`` first is (-1: nowhere). Rare (a form's lines), so the chunks are
        joined into one first."""
        if not self._chunks:
            return -1
        if len(self._chunks) > 1 or self._offset:
            self._chunks = deque([b"".join(self._chunks)[self._offset :]])
            self._offset = 0
        return self._chunks[0].find(sub)

    def clear(self) -> None:
        self._chunks.clear()
        self._offset = 0
        self.size = 0


class StreamedBody:
    """The body of one request, fed by :meth:`pump` on the event loop and read, blocking, by
    the view's thread. File-like as far as Django's request reads it: ``read``, ``readline``,
    ``close``."""

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self._receive = receive
        self._loop = loop
        self._buffer = _Chunks()
        self._ready = threading.Condition()
        self._room = asyncio.Event()
        self._pump_waiting = False
        self._ended = asyncio.Event()  # the whole body has arrived, or the client has gone
        self._complete = False  # every byte of the body has arrived
        self._incomplete = False  # the body ended early: the client went, or was cut off
        self._discarding = False  # the answer is ready: drop what is left of the body
        self._closed = False
        self.disconnected: asyncio.Future[None] = loop.create_future()

    # The event loop's side.

    async def pump(self) -> None:
        """Receive the body into the buffer, waiting for room; then wait for the disconnect
        (which Django's own listener is told of through :meth:`receive_disconnect`)."""
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                with self._ready:
                    if not self._complete:
                        self._incomplete = True
                    self._ready.notify_all()
                self._ended.set()
                if not self.disconnected.done():
                    self.disconnected.set_result(None)
                return
            if message["type"] != "http.request" or self._complete:
                continue
            chunk = message.get("body", b"")
            done = not message.get("more_body", False)
            while True:
                with self._ready:
                    if self._discarding or self._closed:
                        chunk = b""
                    if not chunk or len(self._buffer) < BUFFER_BYTES:
                        self._buffer.append(chunk)
                        self._complete = done
                        self._ready.notify_all()
                        break
                    self._room.clear()
                    self._pump_waiting = True
                await self._room.wait()
            if done:
                self._ended.set()

    async def receive_disconnect(self) -> Message:
        """The ``receive`` Django's handler listens on for a disconnect while the view runs."""
        await asyncio.shield(self.disconnected)
        return {"type": "http.disconnect"}

    async def drain(self) -> None:
        """Drop what the view did not read, and wait until the whole body has arrived (or the
        client has gone): an answer is sent only after the body, as Django's own handler does."""
        with self._ready:
            self._discarding = True
            self._buffer.clear()
        self._room.set()
        await self._ended.wait()

    @property
    def incomplete(self) -> bool:
        """The body ended before all of it arrived."""
        return self._incomplete

    # The view's thread's side.

    def _wait(self, enough: Callable[[], bool]) -> None:
        """Block until ``enough()``, the whole body has arrived, or it ended early; the lock
        is held on return."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError("A streamed request body cannot be read on the event loop.")
        while not (enough() or self._complete or self._incomplete or self._closed):
            self._ready.wait()
        if self._incomplete or self._closed:
            raise BodyEndedEarly("The request body ended before all of it arrived.")

    def _take(self, size: int, *, piece: bool = False) -> bytes:
        data = self._buffer.take_piece(size) if piece else self._buffer.take(size)
        if self._pump_waiting and len(self._buffer) <= BUFFER_BYTES // 2:
            self._pump_waiting = False
            self._loop.call_soon_threadsafe(self._room.set)
        return data

    def read(self, size: int | None = -1) -> bytes:
        with self._ready:
            if size is None or size < 0:
                self._wait(lambda: False)
                return self._take(len(self._buffer))
            # What has arrived, up to ``size``, as a socket gives it: the parser takes what
            # comes, so the file is written as the body arrives; one message at most, so
            # its bytes are not copied to join it to the next.
            self._wait(lambda: len(self._buffer) > 0 or size == 0)
            return self._take(size, piece=True)

    def readline(self, size: int | None = -1) -> bytes:
        limit = size if size is not None and size >= 0 else None

        def line_end() -> int:
            end = self._buffer.find(b"\n")
            if end >= 0:
                end += 1
            elif limit is not None and len(self._buffer) >= limit:
                end = limit
            return end if limit is None or end < 0 else min(end, limit)

        with self._ready:
            self._wait(lambda: line_end() >= 0)
            end = line_end()
            return self._take(end if end >= 0 else len(self._buffer))

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._buffer.clear()
            self._ready.notify_all()
            waiting, self._pump_waiting = self._pump_waiting, False
        if waiting and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._room.set)


@dataclass
class _Streaming:
    """One streamed request as the handler follows it."""

    body: StreamedBody
    request: HttpRequest | None = None
    view: asyncio.Future[HttpResponseBase] | None = None  # the view, to its response
    answered: bool = False  # the response went to send_response (Django then closes it)


_streaming: contextvars.ContextVar[_Streaming | None] = contextvars.ContextVar(
    "commonroom_streamed_request", default=None
)


_P = ParamSpec("_P")
_T = TypeVar("_T")


class _RequestThread(ThreadPoolExecutor):
    """The one thread a request's sync code runs in (its middleware, view, response's close),
    kept for a later request once this one is over. It counts the calls given to it and not
    yet finished: a thread with one still running when its request ends (a request's task
    cancelled while its view runs: asgiref's ``sync_to_async`` then returns at once and leaves
    the call running) is never given to another request, whose calls would wait behind it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="commonroom-request")
        self._counting = threading.Lock()
        self.unfinished = 0

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        with self._counting:
            self.unfinished += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._finished()
            raise
        # Called in the thread as the call ends, before the event loop hears of it.
        future.add_done_callback(lambda _: self._finished())
        return future

    def _finished(self) -> None:
        with self._counting:
            self.unfinished -= 1


class _RequestThreads:
    """Threads for requests, kept between them (on the event loop's thread only). Django's
    handler makes a new thread for every request and joins it, in yet another new thread,
    when the request ends; here a request takes an idle one, and gives it back when it ends
    with nothing of it left running."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._idle: list[_RequestThread] = []

    def take(self) -> _RequestThread:
        return self._idle.pop() if self._idle else _RequestThread()

    def give_back(self, thread: _RequestThread) -> None:
        if thread.unfinished == 0 and len(self._idle) < self.keep:
            self._idle.append(thread)
        else:
            thread.shutdown(wait=False)  # it ends once what it runs is over

    def drop_idle(self) -> None:
        """End the idle threads: the next requests start new ones."""
        while self._idle:
            self._idle.pop().shutdown(wait=False)


class StreamingASGIHandler(ASGIHandler):
    """Django's ASGI handler, giving the requests ``streamed`` picks out a :class:`StreamedBody`
    (see the module's docstring); every other request is read whole first, as Django does.

    Django stops waiting for a view when the client goes, and leaves its thread to finish
    alone. A streamed request's view is waited for all the same, so that the request ends
    only when nothing of it is left: its files closed (an upload's scratch file freed) and its
    response closed, though it was never sent.

    Every request, streamed or not, pays less for getting to its view than with Django's own
    handler: its sync code runs in a thread kept between requests (:class:`_RequestThreads`;
    Django's starts a thread for each and joins it in another), and the middleware chain,
    all sync, is run in that thread in one hop (Django's async chain adapts it at the top and
    again around the view, and waits on the event loop between)."""

    def __init__(
        self,
        streamed: Callable[[Scope], bool],
        *,
        threads_kept: int = 8,
        views_at_once: int | None = None,
    ) -> None:
        super().__init__()
        self.streamed = streamed
        self.threads = _RequestThreads(threads_kept)
        self.views_at_once = (
            settings.COMMONROOM_VIEWS_AT_ONCE if views_at_once is None else views_at_once
        )
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # As in Django's handler, the request's sync code runs in one thread of its own (its
        # connection, its transaction), here one kept between requests.
        thread = self.threads.take()
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            self.threads.give_back(thread)

    def load_middleware(self, is_async: bool = False) -> None:
        """The middleware chain loaded sync, as a WSGI server (and the test client) runs it:
        every middleware here is sync-only, and an async chain adapts it at the top and again
        around the view (a hop to the event loop and back in the middle of every request)."""
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        """The sync chain, middleware and view, run in the request's thread in one hop, once
        the request has a turn: at most ``views_at_once`` run at a time in this process, and
        the rest wait on the event loop, their threads parked (Django's ``request_started``
        receivers have already run in them) with no database connection and nothing of a view
        in memory. Under 500 people each request in flight held 1.5 to 2 MiB outside Python's
        own objects (its database connection, its SQLite schema and page cache, its stack),
        and with nothing bounding them the requests in flight on a busy machine grew to 130 to
        500 and the process to 330 to 850 MiB (docs/benchmarks.md, decision 58). An upload
        (streamed) takes no turn: its view runs while its body arrives, as slowly as the
        sender sends, and the person's upload slots bound those (``core.asgi_limits``)."""
        run = sync_to_async(self.get_response, thread_sensitive=True)
        if _streaming.get() is not None:
            return await run(request)
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = asyncio.Semaphore(max(self.views_at_once, 1))
        async with turns:
            return await run(request)

    async def handle(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if not self.streamed(scope):
            await super().handle(scope, receive, send)
            return
        streaming = _Streaming(StreamedBody(receive, asyncio.get_running_loop()))
        pumping = asyncio.create_task(streaming.body.pump())
        token = _streaming.set(streaming)
        try:
            await super().handle(scope, streaming.body.receive_disconnect, send)
        finally:
            _streaming.reset(token)
            streaming.body.close()  # a read still waiting ends: the body is over either way
            try:
                await self._unanswered_view_end(streaming)
            finally:
                pumping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pumping

    async def _unanswered_view_end(self, streaming: _Streaming) -> None:
        """Wait for a view Django stopped waiting for; then close what it leaves open."""
        if streaming.view is None or streaming.answered:
            return
        response: HttpResponseBase | None = None
        with contextlib.suppress(Exception):
            response = await streaming.view
        request = streaming.request
        if request is not None:
            await sync_to_async(_close_unanswered)(request, response)

    def create_request(
        self, scope: Mapping[str, Any], body_file: IO[bytes]
    ) -> tuple[ASGIRequest, None] | tuple[None, HttpResponseBase]:
        created = super().create_request(scope, body_file)
        if (streaming := _streaming.get()) is not None:
            streaming.request = created[0]
        return created

    async def read_body(self, receive: Receive) -> IO[bytes]:
        streaming = _streaming.get()
        if streaming is None:
            return await super().read_body(receive)
        return cast(IO[bytes], streaming.body)

    async def run_get_response(self, request: HttpRequest) -> HttpResponseBase:
        streaming = _streaming.get()
        if streaming is None:
            return await super().run_get_response(request)
        streaming.view = asyncio.ensure_future(super().run_get_response(request))
        return await asyncio.shield(streaming.view)

    async def send_response(self, response: HttpResponseBase, send: Send) -> None:
        streaming = _streaming.get()
        if streaming is not None:
            streaming.answered = True
            await streaming.body.drain()
            if streaming.body.incomplete:
                # Cut off, or the client went: as with Django's own handler, which would not
                # have run the view, nothing is sent (the guard in front answers its refusal).
                return
        await super().send_response(response, send)


def _close_unanswered(request: HttpRequest, response: HttpResponseBase | None) -> None:
    discard_partial_uploads(request)  # the file a cut-off body was being written to
    if response is not None:
        response.close()  # closes the request too, as an answered one is
    else:
        request.close()
