"""Static files (our CSS and JavaScript, the NHS.UK frontend, htmx) served by WhiteNoise, under
ASGI a chunk at a time.

WhiteNoise's middleware answers with a ``FileResponse`` whose iterator is synchronous, which
Django's ASGI handler reads whole before sending (with a warning). This middleware is WhiteNoise's
with one change: its response is a :class:`~commonroom.core.responses.ChunkedFileResponse`.
Headers, compression, caching and range requests stay WhiteNoise's.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from whitenoise.middleware import WhiteNoiseMiddleware

from commonroom.core.responses import ChunkedFileResponse


class StaticFileResponse(ChunkedFileResponse):
    def set_headers(self, *args: Any, **kwargs: Any) -> None:
        """WhiteNoise sets every header itself (Django's would add a Content-Disposition)."""


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    @staticmethod
    def serve(static_file: Any, request: HttpRequest) -> StaticFileResponse:
        response = static_file.get_response(request.method, request.META)
        served = StaticFileResponse(response.file or (), status=int(response.status))
        del served["content-type"]
        for key, value in response.headers:
            served[key] = value
        return served
