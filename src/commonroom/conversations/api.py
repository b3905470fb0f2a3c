"""The conversations part of the JSON API (mounted on /api/v1/workspaces by commonroom/api.py).
Same selectors, services and abilities as the pages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field, StringConstraints

from commonroom.accounts.api import PersonOut, person_out, person_row_out
from commonroom.conversations import services
from commonroom.conversations.models import Conversation, Message
from commonroom.conversations.permissions import (
    conversation_abilities,
    message_abilities,
    message_abilities_as,
)
from commonroom.conversations.selectors import (
    PAGE_SIZE,
    conversation_get,
    conversation_rows,
    message_page,
    message_rows,
)
from commonroom.core.pagination import Keyset, PageIn, page_for, page_schema
from commonroom.core.request_info import RequestInfo
from commonroom.core.views import AuthedRequest
from commonroom.workspaces.selectors import WorkspaceAccess, workspace_access

if TYPE_CHECKING:
    from commonroom.accounts.models import User

router = Router(tags=["conversations"])

NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, StringConstraints(pattern=NO_NUL)]


class ConversationOut(Schema):
    id: uuid.UUID
    title: str
    started_by: PersonOut
    created_at: datetime
    last_message_at: datetime
    message_count: int
    unread: int
    abilities: dict[str, bool]


class MessageOut(Schema):
    id: uuid.UUID
    conversation_id: uuid.UUID
    author: PersonOut
    body: str
    body_html: str
    document_id: uuid.UUID | None
    mentioned: list[int] = Field(description="The ids of the people mentioned.")
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    client_key: str
    abilities: dict[str, bool]


class ConversationDetailOut(Schema):
    conversation: ConversationOut
    messages: list[MessageOut]
    has_earlier: bool
    has_later: bool


class ConversationIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    title: Text
    body: Text
    document_id: uuid.UUID | None = None
    client_key: Text = ""


class MessageIn(Schema):
    model_config = ConfigDict(extra="forbid")

    body: Text
    document_id: uuid.UUID | None = None
    client_key: Text = ""


class MessagePatch(Schema):
    model_config = ConfigDict(extra="forbid")

    body: Text


def conversation_out(c: Conversation, access: WorkspaceAccess) -> dict[str, object]:
    return {
        "id": c.pk,
        "title": c.title,
        "started_by": person_out(c.created_by),
        "created_at": c.created_at,
        "last_message_at": c.last_message_at,
        "message_count": c.message_count,
        "unread": getattr(c, "unread", 0),
        "abilities": conversation_abilities(access),
    }


def message_out(m: Message, access: WorkspaceAccess, user: User) -> dict[str, object]:
    return {
        "id": m.pk,
        "conversation_id": m.conversation_id,
        "author": person_out(m.author),
        "body": m.body,
        "body_html": m.body_html,
        "document_id": m.document_id,
        "mentioned": sorted(u.pk for u in m.mentioned.all()),
        "created_at": m.created_at,
        "edited_at": m.edited_at,
        "deleted_at": m.deleted_at,
        "client_key": m.client_key,
        "abilities": message_abilities(access, m, user),
    }


def conversation_row_out(row: Mapping[str, Any], access: WorkspaceAccess) -> dict[str, object]:
    """:func:`conversation_out` of a row of ``selectors.CONVERSATION_COLUMNS``."""
    return {
        "id": row["id"],
        "title": row["title"],
        "started_by": person_row_out(row, "created_by__"),
        "created_at": row["created_at"],
        "last_message_at": row["last_message_at"],
        "message_count": row["message_count"],
        "unread": row["unread"],
        "abilities": conversation_abilities(access),
    }


def message_row_out(
    row: Mapping[str, Any], access: WorkspaceAccess, user: User
) -> dict[str, object]:
    """:func:`message_out` of a row of ``selectors.message_rows``."""
    return {
        "id": row["id"],
        "conversation_id": row["conversation_id"],
        "author": person_row_out(row, "author__"),
        "body": row["body"],
        "body_html": row["body_html"],
        "document_id": row["document_id"],
        "mentioned": row["mentioned"],
        "created_at": row["created_at"],
        "edited_at": row["edited_at"],
        "deleted_at": row["deleted_at"],
        "client_key": row["client_key"],
        "abilities": message_abilities_as(
            access,
            deleted=row["deleted_at"] is not None,
            author_id=row["author__id"],
            user=user,
        ),
    }


def _info(request: AuthedRequest) -> RequestInfo:
    return RequestInfo.from_request(request)


def _access(request: AuthedRequest, workspace_id: uuid.UUID) -> WorkspaceAccess:
    return workspace_access(user=request.user, workspace_id=workspace_id)


ConversationPage = page_schema(ConversationOut, "ConversationPage")
MessagePage = page_schema(MessageOut, "MessagePage")
# The lists' orders (core.pagination). A conversation that gets a message while a client pages
# through the list moves to its top, before the cursor: the client sees it on its next walk.
NEWEST_ACTIVITY_FIRST = Keyset(("-last_message_at", "-created_at", "-pk"))
OLDEST_MESSAGE_FIRST = Keyset(("created_at", "pk"))


@router.get("/{workspace_id}/conversations", response=ConversationPage)
def conversations_list(
    request: AuthedRequest, workspace_id: uuid.UUID, page: Query[PageIn]
) -> object:
    """The workspace's conversations, newest activity first, with the caller's unread counts,
    a page at a time."""
    access = _access(request, workspace_id)
    window = page_for(page, keyset=NEWEST_ACTIVITY_FIRST, scope=f"conversations:{workspace_id}")
    rows = window.window(conversation_rows(access=access, user=request.user))
    return window.respond(request, rows, lambda row: conversation_row_out(row, access))


@router.get("/{workspace_id}/conversations/{conversation_id}/messages", response=MessagePage)
def messages_list(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    conversation_id: uuid.UUID,
    page: Query[PageIn],
) -> object:
    """The conversation's messages, oldest first, a page at a time (deleted ones as their
    tombstones). Reading them does not mark the conversation read (POST …/read)."""
    access = _access(request, workspace_id)
    conversation = conversation_get(
        access=access, conversation_id=conversation_id, user=request.user
    )
    window = page_for(page, keyset=OLDEST_MESSAGE_FIRST, scope=f"messages:{conversation.pk}")
    rows = message_rows(conversation=conversation, page=window)
    return window.respond(request, rows, lambda row: message_row_out(row, access, request.user))


@router.post("/{workspace_id}/conversations", response={201: ConversationOut, 200: ConversationOut})
def conversations_create(
    request: AuthedRequest, workspace_id: uuid.UUID, payload: ConversationIn
) -> object:
    """Start a conversation with its first message. A resent ``client_key`` answers 200 with the
    conversation it started, and starts nothing."""
    access = _access(request, workspace_id)
    conversation = services.conversation_start(
        actor=request.user,
        access=access,
        title=payload.title,
        body=payload.body,
        document=payload.document_id,
        client_key=payload.client_key,
        info=_info(request),
    )
    first = conversation.first_message
    found = conversation_get(access=access, conversation_id=conversation.pk, user=request.user)
    status = 201 if first is not None and first.is_new else 200
    return Status(status, conversation_out(found, access))


@router.get("/{workspace_id}/conversations/{conversation_id}", response=ConversationDetailOut)
def conversations_get(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    conversation_id: uuid.UUID,
    after: str | None = None,
    before: uuid.UUID | None = None,
    limit: int = PAGE_SIZE,
) -> object:
    """The conversation and a page of its messages, oldest first: the latest ``limit``; or those
    after ``after`` (a message id or an ISO 8601 time); or the ``limit`` before message
    ``before``. Reading through the API does not mark the conversation read (POST …/read)."""
    access = _access(request, workspace_id)
    conversation = conversation_get(
        access=access, conversation_id=conversation_id, user=request.user
    )
    page = message_page(
        conversation=conversation,
        after=after,
        before=str(before) if before else None,
        limit=limit,
    )
    return {
        "conversation": conversation_out(conversation, access),
        "messages": [message_out(m, access, request.user) for m in page.messages],
        "has_earlier": page.has_earlier,
        "has_later": page.has_later,
    }


@router.post(
    "/{workspace_id}/conversations/{conversation_id}/messages",
    response={201: MessageOut, 200: MessageOut},
)
def messages_create(
    request: AuthedRequest, workspace_id: uuid.UUID, conversation_id: uuid.UUID, payload: MessageIn
) -> object:
    """Post a message. A resent ``client_key`` answers 200 with the message already posted."""
    access = _access(request, workspace_id)
    message = services.message_post(
        actor=request.user,
        access=access,
        conversation_id=conversation_id,
        body=payload.body,
        document_id=payload.document_id,
        client_key=payload.client_key,
        info=_info(request),
    )
    return Status(201 if message.is_new else 200, message_out(message, access, request.user))


@router.patch(
    "/{workspace_id}/conversations/{conversation_id}/messages/{message_id}", response=MessageOut
)
def messages_update(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    payload: MessagePatch,
) -> object:
    access = _access(request, workspace_id)
    message = services.message_edit(
        actor=request.user,
        access=access,
        conversation_id=conversation_id,
        message_id=message_id,
        body=payload.body,
        info=_info(request),
    )
    return message_out(message, access, request.user)


@router.delete(
    "/{workspace_id}/conversations/{conversation_id}/messages/{message_id}",
    response={204: None},
)
def messages_delete(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
) -> object:
    services.message_delete(
        actor=request.user,
        access=_access(request, workspace_id),
        conversation_id=conversation_id,
        message_id=message_id,
        info=_info(request),
    )
    return Status(204, None)


@router.post("/{workspace_id}/conversations/{conversation_id}/read", response={204: None})
def conversations_read(
    request: AuthedRequest, workspace_id: uuid.UUID, conversation_id: uuid.UUID
) -> object:
    """Mark everything in the conversation up to now as read by the caller."""
    access = _access(request, workspace_id)
    conversation = conversation_get(
        access=access, conversation_id=conversation_id, user=request.user
    )
    services.conversation_mark_read(user=request.user, conversation=conversation)
    return Status(204, None)
