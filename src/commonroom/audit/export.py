"""The audit trail as a CSV download, streamed at constant memory.

Under ASGI the response is an asynchronous iterator: each step reads the next rows from the
database and writes them as about ``PART_BYTES`` of CSV in the request's own thread (the one its
database connection lives in; on PostgreSQL a server-side cursor, on SQLite chunked reads), then
hands that part to the event loop to send. Nothing holds more than one part and one chunk of
rows, whatever the size of the trail: 200,000 events leave the server's memory where it was
(``audit/tests/test_export_process.py``). WSGI and Django's test client read the same parts
through the synchronous iterator.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

PART_BYTES = 256 * 1024


def _next_part(rows: Iterator[list[str]]) -> str:
    """The next rows as CSV, about ``PART_BYTES`` of it ("" when there are none left)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= PART_BYTES:
            break
    return buffer.getvalue()


def _parts(rows: Iterator[list[str]]) -> Iterator[str]:
    while part := _next_part(rows):
        yield part


class CsvResponse(StreamingHttpResponse):
    """``rows`` (a generator reading the database: header first) as a CSV attachment."""

    def __init__(self, rows: Iterator[list[str]], *, filename: str) -> None:
        self._rows = rows
        super().__init__(_parts(rows), content_type="text/csv; charset=utf-8")
        self["Content-Disposition"] = f'attachment; filename="{filename}"'

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # thread_sensitive (the default): the request's thread, which holds its connection.
        next_part = sync_to_async(_next_part)
        try:
            while part := await next_part(self._rows):
                yield part.encode()
        finally:
            # Stopped early (the client went away): end the query now, not when collected.
            if (close := getattr(self._rows, "close", None)) is not None:
                await sync_to_async(close)()
