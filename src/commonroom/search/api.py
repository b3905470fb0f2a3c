"""Search in the JSON API (mounted on /api/v1/ by commonroom/api.py): the same selector and the
same filters as the page, so a token finds exactly what its person finds there."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from ninja import Query, Router, Schema

from commonroom.core.views import AuthedRequest
from commonroom.search.backends import COUNT_CAP
from commonroom.search.selectors import parse_params, search

router = Router(tags=["search"])


class HitOut(Schema):
    kind: str
    id: str
    title: str
    title_html: str
    snippet_html: str
    url: str
    workspace_id: uuid.UUID
    workspace_name: str
    author_id: int | None
    author_name: str
    date: datetime


class SearchOut(Schema):
    words: list[str]
    total_estimate: int
    more_than_estimate: bool
    items: list[HitOut]


# Dates are checked by the selector (the same words as the page's form give).
REFUSED = {
    "description": "A date that is not YYYY-MM-DD or does not exist (`detail` says which).",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}


@router.get("/search", response=SearchOut, openapi_extra={"responses": {"400": REFUSED}})
def search_api(
    request: AuthedRequest,
    q: str = "",
    workspace: uuid.UUID | None = None,
    kind: Literal["", "document", "comment", "conversation", "message"] = "",
    person: int | None = Query(None, ge=1, le=2_147_483_647),
    since: str = "",
    until: str = "",
    limit: int = 20,
    offset: int = 0,
) -> object:
    """Search what you can read: document names and text, comments, conversations and messages,
    in your workspaces only. Every word must match the start of a word. ``kind``: document,
    comment, conversation (topics and their messages) or message; ``person``: a person's id;
    ``since``/``until``: dates (YYYY-MM-DD, both included); ``limit`` at most 100. Best first;
    past 1,001 matches, the newest 1,001 and the newest 1,001 whose title holds every word are
    ranked, and the other matches follow them newest first.
    ``title_html`` and ``snippet_html`` are escaped text with the matched words in ``<mark>``."""
    params = parse_params(
        {
            # Typed above, so a malformed id or date is a 422 naming the field.
            "q": q,
            "workspace": str(workspace) if workspace else "",
            "kind": kind,
            "person": str(person) if person is not None else "",
            "since": since,
            "until": until,
        }
    )
    # The selector holds limit and offset to its bounds (1 to 100, 0 to 10,000).
    results = search(user=request.user, **params.as_kwargs(), limit=limit, offset=offset)
    return {
        "words": results.words,
        "total_estimate": min(results.total_estimate, COUNT_CAP),
        "more_than_estimate": results.more_than,
        "items": [
            {
                "kind": h.kind,
                "id": h.object_id,
                "title": h.title,
                "title_html": str(h.title_html),
                "snippet_html": str(h.snippet_html),
                "url": h.url,
                "workspace_id": h.workspace_id,
                "workspace_name": h.workspace_name,
                "author_id": h.author_id,
                "author_name": h.author_name,
                "date": h.date,
            }
            for h in results.hits
        ],
    }
