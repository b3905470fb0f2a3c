"""The comments part of the JSON API (mounted on /api/v1/workspaces by commonroom/api.py). Same
selectors, services and abilities as the pages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field, StringConstraints

from commonroom.accounts.api import PersonOut, person_out, person_row_out
from commonroom.comments import services
from commonroom.comments.models import Comment
from commonroom.comments.selectors import thread_rows
from commonroom.core.pagination import Keyset, PageIn, page_for, page_schema
from commonroom.core.request_info import RequestInfo
from commonroom.core.views import AuthedRequest
from commonroom.documents.api import NO_NUL, Text
from commonroom.documents.selectors import DocumentAccess, document_access

router = Router(tags=["comments"])

ClientKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{0,64}$")]


class CommentOut(Schema):
    id: uuid.UUID
    thread: uuid.UUID | None = Field(description="The thread's first comment; null for it.")
    version: int
    author: PersonOut
    body: str = Field(description="The text as written (Markdown-lite); empty once deleted.")
    body_html: str = Field(description="The sanitised HTML of body, safe to show as it is.")
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    resolved_at: datetime | None
    resolved_by: PersonOut | None
    anchor_quote: str
    anchor_position: dict[str, Any] | None = Field(
        None, description='The passage quoted: {"block": "p-<n>", "start": int, "end": int}.'
    )
    mentioned: list[int]
    client_key: str


class PassageOut(Schema):
    version: int = Field(description="A version after the one the thread was written on.")
    state: Literal["found", "changed", "no_preview", "unreadable"] = Field(
        description="found: the passage is in it, unchanged, at block/start/end; changed: it "
        "is not (the thread is not looked for in later versions); no_preview: the version has "
        "no preview to look in; unreadable: where the passage was could not be read."
    )
    block: str = Field(description='The block of its preview ("p-<n>"); empty unless found.')
    start: int | None
    end: int | None


class ThreadOut(CommentOut):
    replies: list[CommentOut]
    passages: list[PassageOut] = Field(
        description="Where the anchored passage was looked for in later versions, oldest first."
    )


class CommentIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    body: Text
    version: int | None = Field(None, description="The version commented on (default: latest).")
    anchor_quote: Annotated[str, StringConstraints(pattern=NO_NUL, max_length=500)] = ""
    anchor_position: dict[str, Any] | None = Field(
        None,
        description='The passage of the preview: {"block": "p-<n>", "start": int, "end": int} '
        "(the block's id in the preview HTML; character offsets in it). Anything else is ignored.",
    )
    client_key: ClientKey = Field(
        "", description="Send the same key when retrying: the comment is stored once."
    )


class ReplyIn(Schema):
    model_config = ConfigDict(extra="forbid")

    body: Text
    client_key: ClientKey = ""


class CommentPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    body: Text


def comment_out(c: Comment) -> dict[str, Any]:
    return {
        "id": c.pk,
        "thread": c.thread_id,
        "version": c.version.number,
        "author": person_out(c.author),
        "body": c.body,
        "body_html": c.body_html,
        "created_at": c.created_at,
        "edited_at": c.edited_at,
        "deleted": c.is_deleted,
        "resolved_at": c.resolved_at,
        "resolved_by": person_out(c.resolved_by),
        "anchor_quote": c.anchor_quote,
        "anchor_position": c.anchor_position,
        "mentioned": sorted(u.pk for u in c.mentioned.all()),
        "client_key": c.client_key,
    }


def comment_row_out(row: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`comment_out` of a row of ``selectors.COMMENT_COLUMNS`` (with ``mentioned``)."""
    return {
        "id": row["id"],
        "thread": row["thread_id"],
        "version": row["version__number"],
        "author": person_row_out(row, "author__"),
        "body": row["body"],
        "body_html": row["body_html"],
        "created_at": row["created_at"],
        "edited_at": row["edited_at"],
        "deleted": row["deleted_at"] is not None,
        "resolved_at": row["resolved_at"],
        "resolved_by": person_row_out(row, "resolved_by__"),
        "anchor_quote": row["anchor_quote"],
        "anchor_position": row["anchor_position"],
        "mentioned": row["mentioned"],
        "client_key": row["client_key"],
    }


def thread_row_out(root: Mapping[str, Any]) -> dict[str, Any]:
    """A thread as the API lists it: its first comment (as :func:`comment_out` shows it), its
    replies and its passages, from a row of ``selectors.thread_rows``."""
    return {
        **comment_row_out(root),
        "replies": [comment_row_out(r) for r in root["replies"]],
        "passages": [
            {
                "version": p["version__number"],
                "state": p["state"],
                "block": p["block"],
                "start": p["start"],
                "end": p["end"],
            }
            for p in root["passages"]
        ],
    }


def _info(request: AuthedRequest) -> RequestInfo:
    return RequestInfo.from_request(request)


def _doc(request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID) -> DocumentAccess:
    return document_access(user=request.user, workspace_id=workspace_id, document_id=document_id)


def _answer(comment: Comment) -> object:
    """201 for a comment made now, 200 for one a resend found."""
    return Status(201 if comment.is_new else 200, comment_out(comment))


C = "/{workspace_id}/documents/{document_id}/comments"


ThreadPage = page_schema(ThreadOut, "ThreadPage")
OLDEST_THREAD_FIRST = Keyset(("created_at", "pk"))


@router.get(C, response=ThreadPage)
def comment_list(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, page: Query[PageIn]
) -> object:
    """The threads on the document, oldest first, each with its replies, a page of threads at
    a time."""
    doc_access = _doc(request, workspace_id, document_id)
    window = page_for(page, keyset=OLDEST_THREAD_FIRST, scope=f"threads:{document_id}")
    return window.respond(request, thread_rows(doc_access=doc_access, page=window), thread_row_out)


@router.post(C, response={200: CommentOut, 201: CommentOut})
def comment_create(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, payload: CommentIn
) -> object:
    """Start a thread. 201 when created; 200 with the earlier comment when ``client_key`` was
    already used by you for this document (a retry)."""
    comment = services.comment_create(
        actor=request.user,
        doc_access=_doc(request, workspace_id, document_id),
        body=payload.body,
        version_number=payload.version,
        anchor_quote=payload.anchor_quote,
        anchor_position=payload.anchor_position,
        client_key=payload.client_key,
        info=_info(request),
    )
    return _answer(comment)


@router.post(C + "/{comment_id}/replies", response={200: CommentOut, 201: CommentOut})
def comment_reply(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    comment_id: uuid.UUID,
    payload: ReplyIn,
) -> object:
    """Reply in the thread of ``comment_id``. Same retry rule as starting a thread."""
    comment = services.comment_reply(
        actor=request.user,
        doc_access=_doc(request, workspace_id, document_id),
        comment_id=comment_id,
        body=payload.body,
        client_key=payload.client_key,
        info=_info(request),
    )
    return _answer(comment)


@router.patch(C + "/{comment_id}", response=CommentOut)
def comment_edit(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    comment_id: uuid.UUID,
    payload: CommentPatch,
) -> object:
    """Change your own comment's text (the earlier text is kept for the audit trail)."""
    comment = services.comment_edit(
        actor=request.user,
        doc_access=_doc(request, workspace_id, document_id),
        comment_id=comment_id,
        body=payload.body,
        info=_info(request),
    )
    return comment_out(comment)


@router.delete(C + "/{comment_id}", response={204: None})
def comment_delete(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, comment_id: uuid.UUID
) -> object:
    """Delete a comment (yours, or any as a manager): a tombstone stays in the thread."""
    services.comment_delete(
        actor=request.user,
        doc_access=_doc(request, workspace_id, document_id),
        comment_id=comment_id,
        info=_info(request),
    )
    return Status(204, None)


def _set_resolved(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    comment_id: uuid.UUID,
    resolved: bool,
) -> object:
    comment = services.comment_set_resolved(
        actor=request.user,
        doc_access=_doc(request, workspace_id, document_id),
        comment_id=comment_id,
        resolved=resolved,
        info=_info(request),
    )
    return comment_out(comment)


@router.post(C + "/{comment_id}/resolve", response=CommentOut)
def comment_resolve(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, comment_id: uuid.UUID
) -> object:
    """Resolve a thread (``comment_id`` is its first comment)."""
    return _set_resolved(request, workspace_id, document_id, comment_id, True)


@router.post(C + "/{comment_id}/reopen", response=CommentOut)
def comment_reopen(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, comment_id: uuid.UUID
) -> object:
    """Reopen a resolved thread."""
    return _set_resolved(request, workspace_id, document_id, comment_id, False)
