"""Streamed responses that ASGI sends a chunk at a time, at constant memory.

Django's ASGI handler iterates a streaming response asynchronously. Given a synchronous
iterator (``FileResponse``'s, or a generator) it warns and reads the *whole* iterator into a
list first, in one thread, before sending a byte. So every streamed response here has an
asynchronous iterator under ASGI:

- :class:`ChunkedFileResponse`: a file, read ``block_size`` bytes at a time in a worker thread;
  WSGI (and Django's test client) keep the ordinary synchronous iterator. Static files
  (``core.staticfiles``) and preview files use it.
- a ``StreamingHttpResponse`` given an async generator (the audit CSV: ``audit.export``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.http import FileResponse


class ChunkedFileResponse(FileResponse):
    block_size = 64 * 1024

    async def __aiter__(self) -> AsyncIterator[bytes]:
        filelike: Any = self.file_to_stream
        if filelike is None:  # not a file: an in-memory iterable (an empty body, say)
            for part in cast(Iterator[bytes], self.streaming_content):
                yield part
            return
        read = sync_to_async(filelike.read, thread_sensitive=False)
        while chunk := await read(self.block_size):
            yield chunk
