"""Sending a Word file with suggestions as tracked changes (``tracked``), for the page and the
API alike: always an attachment, Word's type, ``nosniff`` and a sandbox (``core.downloads``),
never cached; what was left out, in headers (the counts, and the sentence the page also
shows)."""

from __future__ import annotations

from django.http import HttpResponse

from commonroom.core.downloads import attachment
from commonroom.suggestions.tracked import WORD_TYPE, TrackedFile

LEFT_OUT = "Commonroom-Left-Out"
SUGGESTIONS_LEFT_OUT = "Commonroom-Suggestions-Left-Out"
THREADS_LEFT_OUT = "Commonroom-Threads-Left-Out"


def tracked_response(made: TrackedFile) -> HttpResponse:
    response = HttpResponse(made.data, content_type=WORD_TYPE)
    attachment(response, filename=made.filename)
    response["Content-Length"] = str(len(made.data))
    response["Cache-Control"] = "private, no-store"
    response[SUGGESTIONS_LEFT_OUT] = str(made.suggestions_left_out)
    response[THREADS_LEFT_OUT] = str(made.threads_left_out)
    if made.left_out:
        response[LEFT_OUT] = made.left_out
    return response
