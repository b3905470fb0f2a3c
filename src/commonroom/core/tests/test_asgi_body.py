"""An upload's body read as it arrives (core.asgi_body): the view's thread reads what uvicorn
receives through a bounded buffer, a body that ends early is never taken for a whole one, and
reading on the event loop is refused rather than left to hang. The whole server is tested in
documents/tests/test_asgi.py and test_upload_bodies.py."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.http import UnreadablePostError

from commonroom.core.asgi_body import BUFFER_BYTES, StreamedBody

KIB = 1024
MIB = 1024 * KIB


def body_messages(data: bytes, size: int) -> list[dict[str, Any]]:
    """``data`` as uvicorn would hand it over: messages of ``size`` bytes, the last one final."""
    pieces = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    return [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]


class Feed:
    """An ASGI ``receive`` giving ``messages`` one by one, then waiting (as uvicorn does after
    the body, until the client goes); it counts the body bytes it has given."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = list(messages)
        self.given = 0

    async def __call__(self) -> dict[str, Any]:
        await asyncio.sleep(0)
        if not self.messages:
            await asyncio.Event().wait()
        message = self.messages.pop(0)
        self.given += len(message.get("body", b""))
        return message


def with_reader(feed: Feed, read: Callable[[StreamedBody], Any]) -> Any:
    """Run ``read`` in a thread of its own (as Django runs an upload's view) against a body fed
    by ``feed``; its result."""

    async def main() -> Any:
        body = StreamedBody(feed, asyncio.get_running_loop())
        pumping = asyncio.create_task(body.pump())
        try:
            return await asyncio.to_thread(read, body)
        finally:
            pumping.cancel()

    return asyncio.run(main())


def test_the_body_arrives_whole_and_in_order():
    data = os.urandom(3 * MIB + 123)

    def read_all(body: StreamedBody) -> bytes:
        parts = []
        while chunk := body.read(64 * KIB):
            parts.append(chunk)
        return b"".join(parts)

    assert with_reader(Feed(body_messages(data, 100 * KIB)), read_all) == data


def test_a_read_hands_on_one_message_at_most_without_copying_it():
    """As a socket's ``recv``: a read larger than a message gets that message (the very bytes
    uvicorn handed over, not a copy joined to the next), a smaller one a part of it; every
    byte still arrives once and in order."""
    data = os.urandom(MIB + 5)
    messages = body_messages(data, 255 * KIB)
    sent = [m["body"] for m in messages]
    feed = Feed(messages)

    def read_all(body: StreamedBody) -> list[bytes]:
        time.sleep(0.05)  # let several messages queue up
        reads = []
        while chunk := body.read(256 * KIB):
            reads.append(chunk)
        return reads

    reads = with_reader(feed, read_all)
    assert b"".join(reads) == data
    assert all(len(r) <= 255 * KIB for r in reads)
    assert any(r is s for r in reads for s in sent)  # handed on as received
    small = with_reader(Feed(body_messages(data, 255 * KIB)), lambda b: b.read(100 * KIB))
    assert small == data[: 100 * KIB]


def test_memory_stays_flat_however_slowly_the_view_reads():
    """Never more than the buffer (and the message on its way) is received ahead of the view."""
    message = 512 * KIB
    feed = Feed(body_messages(os.urandom(12 * BUFFER_BYTES), message))
    ahead: list[int] = []

    def read_slowly(body: StreamedBody) -> int:
        read = 0
        while chunk := body.read(MIB):
            read += len(chunk)
            ahead.append(feed.given - read)
            time.sleep(0.002)  # a slow disk
        return read

    assert with_reader(feed, read_slowly) == 12 * BUFFER_BYTES
    assert max(ahead) <= BUFFER_BYTES + message


def test_a_body_that_ends_early_is_never_taken_for_a_whole_one():
    """The client goes halfway: the reader gets what came, then an error, never an empty read
    (which the multipart parser would take for the end of a whole body)."""
    messages = body_messages(os.urandom(300 * KIB), 64 * KIB)
    messages[-1]["more_body"] = True  # more was announced
    feed = Feed([*messages, {"type": "http.disconnect"}])
    got: list[bytes] = []

    def read_until_it_fails(body: StreamedBody) -> None:
        while True:
            chunk = body.read(64 * KIB)
            assert chunk, "an empty read before the body ended"
            got.append(chunk)

    with pytest.raises(UnreadablePostError):
        with_reader(feed, read_until_it_fails)
    assert len(b"".join(got)) <= 300 * KIB


def test_lines_are_read_across_messages():
    feed = Feed(body_messages(b"first\nsecond line\nlast", 4))

    def lines(body: StreamedBody) -> list[bytes]:
        return [body.readline(), body.readline(), body.readline(), body.readline()]

    assert with_reader(feed, lines) == [b"first\n", b"second line\n", b"last", b""]


def test_reading_on_the_event_loop_is_refused_rather_than_left_to_hang():
    async def main() -> None:
        body = StreamedBody(Feed(body_messages(b"x" * 10, 10)), asyncio.get_running_loop())
        with pytest.raises(RuntimeError, match="event loop"):
            body.read(10)

    asyncio.run(main())


def test_an_answer_waits_for_the_rest_of_an_unread_body():
    """A view that answers without reading (a refusal) has the rest of the body read and
    dropped first, as when Django read it all before the view."""
    feed = Feed(body_messages(os.urandom(3 * BUFFER_BYTES), 256 * KIB))

    async def main() -> tuple[bool, int]:
        body = StreamedBody(feed, asyncio.get_running_loop())
        pumping = asyncio.create_task(body.pump())
        await asyncio.wait_for(body.drain(), timeout=10)
        pumping.cancel()
        return body.incomplete, len(feed.messages)

    assert asyncio.run(main()) == (False, 0)
